# cdf.gp: CDF of iteration times per policy, drawn by wlb-plot from report.json.
# Edit this script or its data and redraw in this directory with:  gnuplot cdf.gp
# (another output file: gnuplot -e "outfile='other.png'" cdf.gp)
if (!exists("outfile")) outfile = 'cdf.png'
set terminal pngcairo size 1000,600 noenhanced font 'DejaVu Sans,10'
set output outfile
set encoding utf8
set title 'Distribution of iteration times over 50 iterations' . "\n" . 'llama2-7b, 128K context, TP8 CP2 PP4 DP1, interleaved 1F1B (2 virtual stages), 4 micro-batches' font ',12'
set border 3 lc rgb '#505050'
set tics nomirror out
set grid ytics back lt 1 lc rgb '#e4e4e4'
set key below center horizontal Left reverse samplen 1.5 spacing 1.1 width 1 height 1
set style fill solid 1.0 noborder
set xlabel 'iteration time (ms)'
set ylabel 'iterations taking at most this long (%)'
set yrange [0:102]
set ytics 0,20,100
set offsets graph 0.02, graph 0.02, 0, 0
set grid xtics ytics back lt 1 lc rgb '#e4e4e4'
plot 'cdf.dat' index 0 using 1:2 with steps lw 2 lc rgb '#c44e52' title 'Plain-4D (mean 2240 ms, median 2198 ms)', \
     '' index 0 every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#c44e52' notitle, \
     'cdf.dat' index 1 using 1:2 with steps lw 2 lc rgb '#dd8452' title 'Fixed-4D (mean 2259 ms, median 2137 ms)', \
     '' index 1 every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#dd8452' notitle, \
     'cdf.dat' index 2 using 1:2 with steps lw 2 lc rgb '#4c72b0' title 'WLB-LLM (mean 1886 ms, median 1411 ms)', \
     '' index 2 every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#4c72b0' notitle, \
     'cdf.dat' index 3 using 1:2 with steps lw 2 lc rgb '#da8bc3' title 'WLB-LLM + hybrid (mean 1883 ms, median 1409 ms)', \
     '' index 3 every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#da8bc3' notitle, \
     'cdf.dat' index 4 using 1:2 with steps lw 2 lc rgb '#8c8c8c' title 'WLB-mem (mean 1886 ms, median 1411 ms)', \
     '' index 4 every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#8c8c8c' notitle, \
     'cdf.dat' index 5 using 1:2 with steps lw 2 lc rgb '#ccb974' title 'Attn-disagg (mean 2173 ms, median 2002 ms)', \
     '' index 5 every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#ccb974' notitle, \
     'cdf.dat' index 6 using 1:2 with steps lw 2 lc rgb '#64b5cd' title 'Attn-dis+WLB (mean 1829 ms, median 1416 ms)', \
     '' index 6 every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#64b5cd' notitle, \
     'cdf.dat' index 7 using 1:2 with steps lw 2 lc rgb '#2f4b7c' title 'DynCP (Megatron) (mean 1835 ms, median 1245 ms)', \
     '' index 7 every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#2f4b7c' notitle, \
     'cdf.dat' index 8 using 1:2 with steps lw 2 lc rgb '#55a868' title 'DynCP (cost) (mean 1733 ms, median 1183 ms)', \
     '' index 8 every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#55a868' notitle
unset output
