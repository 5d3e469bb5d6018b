# cp.gp: attention time per CP rank under per-seq and per-doc sharding, drawn by wlb-plot from report.json.
# Edit this script or its data and redraw in this directory with:  gnuplot cp.gp
# (another output file: gnuplot -e "outfile='other.png'" cp.gp)
if (!exists("outfile")) outfile = 'cp.png'
set terminal pngcairo size 1000,600 noenhanced font 'DejaVu Sans,10'
set output outfile
set encoding utf8
set title 'Attention time per CP rank, iteration 0: per-seq vs per-doc sharding (run: WLB-LLM)' . "\n" . 'llama2-7b, 128K context, TP8 CP2 PP4 DP1, interleaved 1F1B (2 virtual stages), 4 micro-batches' font ',12'
set border 3 lc rgb '#505050'
set tics nomirror out
set grid ytics back lt 1 lc rgb '#e4e4e4'
set key below center horizontal Left reverse samplen 1.5 spacing 1.1 width 1 height 1
set style fill solid 1.0 noborder
set xlabel 'micro-batch; under each, CP ranks 0-1 with per-seq, then with per-doc'
set ylabel 'attention time per layer, forward + backward (ms)'
set xrange [-1:21.00]
set yrange [0:4.27825]
set boxwidth 0.9 absolute
set xtics ('mb 0' 1.75, 'mb 1' 7.25, 'mb 2' 12.75, 'mb 3' 18.25)
set style fill solid 1.0 border lc rgb 'white'
plot 'cp.dat' index 0 using 1:2 with boxes lc rgb '#dd8452' title 'per-seq (one bar per CP rank)', \
     '' index 1 using 1:2 with boxes lc rgb '#4c72b0' title 'per-doc (one bar per CP rank)', \
     '' index 2 using 1:($2+0.152795) with points pt 11 ps 1.4 lc rgb '#222222' title 'adaptive chose this sharding'
unset output
