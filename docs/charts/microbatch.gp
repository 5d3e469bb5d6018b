# microbatch.gp: work per micro-batch of one iteration, drawn by wlb-plot from report.json.
# Edit this script or its data and redraw in this directory with:  gnuplot microbatch.gp
# (another output file: gnuplot -e "outfile='other.png'" microbatch.gp)
if (!exists("outfile")) outfile = 'microbatch.png'
set terminal pngcairo size 1000,600 noenhanced font 'DejaVu Sans,10'
set output outfile
set encoding utf8
set title 'Work per micro-batch in iteration 33: Plain-4D vs WLB-LLM (max/mean 2.02 vs 1.00)' . "\n" . 'llama2-7b, 128K context, TP8 CP2 PP4 DP1, interleaved 1F1B (2 virtual stages), 4 micro-batches' font ',12'
set border 3 lc rgb '#505050'
set tics nomirror out
set grid ytics back lt 1 lc rgb '#e4e4e4'
set key below center horizontal Left reverse samplen 1.5 spacing 1.1 width 1 height 1
set style fill solid 1.0 noborder
set xlabel 'micro-batch, in pipeline order'
set ylabel 'forward + backward time of the micro-batch (ms)'
set xrange [-0.7:3.7]
set yrange [0:3159.28]
set boxwidth 0.38 absolute
set style fill solid 1.0 border lc rgb 'white'
plot 'microbatch.dat' using ($1-0.2):($3+$4) with boxes lc rgb '#c44e52' title 'Plain-4D backward', \
     '' using ($1-0.2):3 with boxes lc rgb '#e4afb1' title 'Plain-4D forward', \
     'microbatch.dat' using ($1+0.2):($5+$6) with boxes lc rgb '#4c72b0' title 'WLB-LLM backward', \
     '' using ($1+0.2):5 with boxes lc rgb '#aec0db' title 'WLB-LLM forward', \
     '' using 1:(NaN):xtic(2) notitle
unset output
