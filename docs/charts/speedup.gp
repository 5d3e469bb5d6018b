# speedup.gp: speedup of each policy, drawn by wlb-plot from report.json.
# Edit this script or its data and redraw in this directory with:  gnuplot speedup.gp
# (another output file: gnuplot -e "outfile='other.png'" speedup.gp)
if (!exists("outfile")) outfile = 'speedup.png'
set terminal pngcairo size 1000,600 noenhanced font 'DejaVu Sans,10'
set output outfile
set encoding utf8
set title 'Speedup over Plain-4D (tokens per second)' . "\n" . 'llama2-7b, 128K context, TP8 CP2 PP4 DP1, interleaved 1F1B (2 virtual stages), 4 micro-batches' font ',12'
set border 3 lc rgb '#505050'
set tics nomirror out
set grid ytics back lt 1 lc rgb '#e4e4e4'
set key below center horizontal Left reverse samplen 1.5 spacing 1.1 width 1 height 1
set style fill solid 1.0 noborder
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb '#666666' front
set ylabel 'speedup over Plain-4D (ratio of tokens/s)'
set xlabel 'policy'
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set xrange [-0.6:8.6]
set boxwidth 0.6 absolute
unset key
set xtics rotate by -30
plot 'speedup.dat' using 1:3:4:xtic(2) with boxes lc rgb variable notitle, \
     '' using 1:3:(sprintf('%.3fx', $3)) with labels offset 0,-0.9 tc rgb 'white' font ',11' notitle
unset output
