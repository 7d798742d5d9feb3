// The Go counterpart of bench/executor (executor-bench), measured in the same bench run instead of figures
// written into a source file: a buffered channel of 1024 func() values drained by 5 goroutines, each task a
// closure capturing its own value, no-op work (one atomic add, as executor-bench's NoOp counts its finish); and
// once more with a channel of int64 values instead of closures (nothing allocated per task).
//
//	go-executor [-tasks 1000000] [-workers 5] [-capacity 1024] [-runs 3]
//
// It prints executor-bench's table rows under the same measure names (bench/run.sh joins the two tables by
// name), then the figures executor-bench has no counterpart for. Figures, not assertions.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

var (
	tasks    = flag.Int("tasks", 1_000_000, "tasks per throughput run")
	workers  = flag.Int("workers", 5, "worker goroutines")
	capacity = flag.Int("capacity", 1024, "channel capacity")
	runs     = flag.Int("runs", 3, "throughput runs")
	total    atomic.Int64 // sum of every finished task's value: the producer knows what to wait for
)

// pool starts the workers on a fresh channel; close it to stop them.
func pool() chan func() {
	ch := make(chan func(), *capacity)
	for i := 0; i < *workers; i++ {
		go func() {
			for f := range ch {
				f()
			}
		}()
	}
	return ch
}

func waitTotal(want int64) {
	for total.Load() != want {
		runtime.Gosched()
	}
}

// throughput: one producer sends n closures as fast as it can (blocking when the channel is full); the time
// until every one ran. timed: also time.Now around every send (a separate run: the clock reads cost).
func throughput(n int, timed bool) (perSecond float64, sends []int64) {
	ch := pool()
	defer close(ch)
	total.Store(0)
	if timed {
		sends = make([]int64, 0, n)
	}
	var want int64
	start := time.Now()
	for i := 1; i <= n; i++ {
		v := int64(i)
		want += v
		if timed {
			t := time.Now()
			ch <- func() { total.Add(v) }
			sends = append(sends, int64(time.Since(t)))
		} else {
			ch <- func() { total.Add(v) }
		}
	}
	waitTotal(want)
	return float64(n) / time.Since(start).Seconds(), sends
}

// valueThroughput: throughput's measure with the value itself sent (a channel of int64, no closure, nothing
// allocated per task): executor-bench's "each task a value of its own" row.
func valueThroughput(n int) float64 {
	// Its own worker loop rather than a generic pool shared with pool(): the closure measure's loop stays the plain
	// pattern, one call per task, not a call of a function that calls the closure.
	ch := make(chan int64, *capacity)
	for i := 0; i < *workers; i++ {
		go func() {
			for v := range ch {
				total.Add(v)
			}
		}()
	}
	defer close(ch)
	total.Store(0)
	var want int64
	start := time.Now()
	for i := 1; i <= n; i++ {
		want += int64(i)
		ch <- int64(i)
	}
	waitTotal(want)
	return float64(n) / time.Since(start).Seconds()
}

// latency: count sends of one task each, timed, after warm-up; between sends wait until it ran (warm), or
// until it ran and the workers had 200 µs to park (parked: then also the wake latency, the send's start
// until the task runs on its worker).
func latency(count int, parked bool) (sends, wakes []int64) {
	ch := pool()
	defer close(ch)
	total.Store(0)
	var want int64
	for i := 0; i < count+1000; i++ {
		if parked {
			time.Sleep(200 * time.Microsecond)
		}
		var woke atomic.Int64
		t := time.Now()
		ch <- func() { woke.Store(int64(time.Since(t))); total.Add(1) }
		sent := int64(time.Since(t))
		want++
		waitTotal(want)
		if i >= 1000 {
			sends = append(sends, sent)
			wakes = append(wakes, woke.Load())
		}
	}
	return sends, wakes
}

// busy: every worker blocked on a gate, the channel empty; time each send of a burst, open the gate, drain.
// Round 0 warms up.
func busy(rounds, burst int) (sends []int64) {
	ch := pool()
	defer close(ch)
	total.Store(0)
	var want int64
	for round := 0; round <= rounds; round++ {
		gate := make(chan struct{})
		var blocked atomic.Int64
		for i := 0; i < *workers; i++ {
			ch <- func() { blocked.Add(1); <-gate; total.Add(1) }
		}
		for blocked.Load() != int64(*workers) {
			runtime.Gosched()
		}
		for i := 0; i < burst; i++ {
			t := time.Now()
			ch <- func() { total.Add(1) }
			if round > 0 {
				sends = append(sends, int64(time.Since(t)))
			}
		}
		close(gate)
		want += int64(*workers + burst)
		waitTotal(want)
	}
	return sends
}

func pct(s []int64) string {
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(f float64) int64 {
		i := int(float64(len(s)) * f)
		if i >= len(s) {
			i = len(s) - 1
		}
		return s[i]
	}
	return fmt.Sprintf("%d / %d / %d", at(0.5), at(0.99), at(0.999))
}

func main() {
	flag.Parse()
	rates := make([]float64, *runs)
	for i := range rates {
		rates[i], _ = throughput(*tasks, false)
	}
	sort.Float64s(rates)
	m := func(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%.2f", v/1e6), "0") + "M" }
	_, loaded := throughput(*tasks, true)
	warm, _ := latency(20_000, false)
	cold, wakes := latency(10_000, true)
	burst := *capacity
	if burst > 1000 {
		burst = 1000
	}
	full := busy(20_000/burst, burst)
	values := make([]float64, *runs)
	for i := range values {
		values[i] = valueThroughput(*tasks)
	}
	sort.Float64s(values)

	fmt.Printf("Go channel micro-benchmark: %s, GOMAXPROCS %d, %d goroutines, channel capacity %d; the producer is one goroutine (blocking send), each task a closure capturing its own value unless its row says it is the value itself\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), *workers, *capacity)
	fmt.Println("| measure | Go channel |\n|---|---|")
	fmt.Printf("| no-op tasks/s, 1 producer thread, %d tasks × %d runs: median (min–max) | %s (%s–%s) |\n",
		*tasks, *runs, m(rates[len(rates)/2]), strings.TrimSuffix(m(rates[0]), "M"), m(rates[len(rates)-1]))
	fmt.Printf("| trySubmit ns p50 / p99 / p999: submit 1, wait for it, repeat | %s |\n", pct(warm))
	fmt.Printf("| trySubmit ns p50 / p99 / p999: every worker parked (wakes one) | %s |\n", pct(cold))
	fmt.Printf("| trySubmit ns p50 / p99 / p999: workers busy, queue has room (burst of %d) | %s |\n", burst, pct(full))
	fmt.Printf("| send ns p50 / p99 / p999 during a %d-task throughput run (time.Now around each send) | %s |\n", *tasks, pct(loaded))
	fmt.Printf("| wake ns p50 / p99 / p999: send to the parked worker running it (10000 wakes, 200 µs apart) | %s |\n", pct(wakes))
	fmt.Printf("| tasks/s, each task a value of its own (no allocation), 1 producer thread, %d tasks × %d runs: median (min–max) | %s (%s–%s) |\n",
		*tasks, *runs, m(values[len(values)/2]), strings.TrimSuffix(m(values[0]), "M"), m(values[len(values)-1]))
	fmt.Printf("| no-op tasks/s: best of %d runs | %s |\n", *runs, m(rates[len(rates)-1]))
}
