# RSS and CPU of `vigil run` over a bench/footprint run (samples.tsv): gnuplot -e "samples='…'; output='…'" plot.gp
set terminal png size 1000,520 font ",10"
set output output
set datafile separator "\t"
set key top left opaque
set boxwidth 10.5/60
set xlabel "minutes"
set ylabel "MiB"
set y2label "% of a core"
set ytics nomirror
set y2tics
stats samples using 3 nooutput
ymax = STATS_max * 1.3
set yrange [0:ymax]
set y2range [0:*]
set grid
set title "vigil run (release): 10 000 series at 1 Hz, 100 WSS consoles (shaded), then none, then idle"
plot samples using ($1/60):(stringcolumn(2) eq "consoles" ? ymax : 1/0) with boxes fs solid 0.10 noborder lc rgb "#4060c0" notitle axes x1y1, \
     samples using ($1/60):3 with lines lw 2 lc rgb "#c03030" title "RSS (MiB)", \
     samples using ($1/60):5 with lines lw 1 lc rgb "#d08030" title "heap in use (MiB)", \
     samples using ($1/60):4 with lines lw 1 lc rgb "#3070c0" title "CPU (% of a core)" axes x1y2
