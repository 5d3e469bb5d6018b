# doclen.gp: document-length distribution, drawn by wlb-plot from report.json.
# Edit this script or its data and redraw in this directory with:  gnuplot doclen.gp
# (another output file: gnuplot -e "outfile='other.png'" doclen.gp)
if (!exists("outfile")) outfile = 'doclen.png'
set terminal pngcairo size 1000,600 noenhanced font 'DejaVu Sans,10'
set output outfile
set encoding utf8
set title 'Document lengths of 7b-128k: 7,843 documents, 26,124,964 tokens' . "\n" . 'llama2-7b, 128K context, TP8 CP2 PP4 DP1, interleaved 1F1B (2 virtual stages), 4 micro-batches' font ',12'
set border 3 lc rgb '#505050'
set tics nomirror out
set grid ytics back lt 1 lc rgb '#e4e4e4'
set key below center horizontal Left reverse samplen 1.5 spacing 1.1 width 1 height 1
set style fill solid 1.0 noborder
set xlabel 'document length (tokens; log2 bins, each labelled by its lower edge)'
set ylabel 'share of all documents or tokens (%)'
set yrange [0:*]
set xrange [-0.7:11.7]
set boxwidth 0.38 absolute
plot 'doclen.dat' using ($1-0.2):7 with boxes lc rgb '#8c9fcf' title 'documents (% of 7,843)', \
     '' using ($1+0.2):8 with boxes lc rgb '#2f4b8a' title 'tokens (% of 26,124,964)', \
     '' using 1:(NaN):xtic(2) notitle
unset output
