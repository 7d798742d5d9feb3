module orderd/bench/go

go 1.19
