# timeline.gp: pipeline timeline of one iteration, drawn by wlb-plot from report.json.
# Edit this script or its data and redraw in this directory with:  gnuplot timeline.gp
# (another output file: gnuplot -e "outfile='other.png'" timeline.gp)
if (!exists("outfile")) outfile = 'timeline.png'
set terminal pngcairo size 1300,458 noenhanced font 'DejaVu Sans,10'
set output outfile
set encoding utf8
set title 'Pipeline timeline of iteration 0: WLB-LLM (gaps are pipeline bubbles)' . "\n" . 'llama2-7b, 128K context, TP8 CP2 PP4 DP1, interleaved 1F1B (2 virtual stages), 4 micro-batches' font ',12'
set border 3 lc rgb '#505050'
set tics nomirror out
set grid ytics back lt 1 lc rgb '#e4e4e4'
set key below center horizontal Left reverse samplen 1.5 spacing 1.1 width 1 height 1
set style fill solid 1.0 noborder
set xlabel 'time within the iteration (ms)'
set xrange [0:1140.91]
set yrange [3.5:-0.5]
set grid noytics
set grid xtics back lt 1 lc rgb '#e4e4e4'
set ytics scale 0 ('stage 0' 0, 'stage 1' 1, 'stage 2' 2, 'stage 3' 3)
set style fill solid 1.0 noborder
set key maxrows 2
plot 'timeline.dat' index 0 using 1:2:3:4 with boxxyerror lc rgb '#ececec' notitle, \
     '' index 1 using 1:2:3:4:5 with boxxyerror lc rgb variable notitle, \
     '' index 1 using 1:2:10 with labels font ',8' tc rgb '#202020' notitle, \
     '' index 2 using 1:2:3:4:5 with boxxyerror lc rgb variable notitle, \
     '' index 2 using 1:2:10 with labels font ',8' tc rgb '#ffffff' notitle, \
     '' index 3 using 1:2:3:4:5 with boxxyerror lc rgb variable notitle, \
     '' index 4 using 1:2:3:4:5 with boxxyerror lc rgb variable notitle, \
     '' index 5 using 1:2:3:4:5 with boxxyerror lc rgb variable notitle, \
     keyentry with boxes lc rgb '#1f77b4' title 'mb 0', \
     keyentry with boxes lc rgb '#ff7f0e' title 'mb 1', \
     keyentry with boxes lc rgb '#2ca02c' title 'mb 2', \
     keyentry with boxes lc rgb '#d62728' title 'mb 3', \
     keyentry with boxes lc rgb '#c8c8c8' title 'forward: light', \
     keyentry with boxes lc rgb '#505050' title 'backward: dark', \
     keyentry with boxes lc rgb '#888888' title 'send (thin bar)', \
     keyentry with boxes lc rgb '#222222' title 'DP sync (thin bar)', \
     keyentry with boxes lc rgb '#ececec' title 'idle (bubble)'
unset output
