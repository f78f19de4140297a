// Command floor measures what RabbitMQ and amqp091-go alone cost for the
// traffic of bench/run.sh's workloads, with nothing of omp in between: the
// floor that omp's figures are divided by.
//
// A requester publishes a persistent message with a publisher confirm to a
// durable quorum queue (as omp's task queues are); a server on a connection
// of its own consumes it, publishes a transient reply to a classic reply queue
// (as omp's events are) and acks; the requester receives the reply.
//
//	rtt   one request at a time: the median round trip (the floor of a
//	      chain's hop, W2 and W4)
//	pipe  N requests published at once, confirms awaited together, until
//	      all N replies arrived (the floor of a fan-out, W1 and W3)
//
// Usage: go run ./bench/floor -url amqp://guest:guest@127.0.0.1:5672/vhost
// prints
//
//	rtt_ms=0.412 pipe1000_s=0.081 pipe10000_s=0.702
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func main() {
	url := flag.String("url", "amqp://guest:guest@127.0.0.1:5672/", "broker URL (give the benchmark's own vhost)")
	trips := flag.Int("trips", 500, "round trips for the median")
	pipes := flag.String("pipe", "1000,10000", "comma-separated sizes of the pipelined runs")
	flag.Parse()
	if err := run(*url, *trips, *pipes); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(url string, trips int, pipes string) error {
	client, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer server.Close()

	cch, err := client.Channel()
	if err != nil {
		return err
	}
	req, rep := "floor.req", "floor.rep"
	defer func() {
		cch.QueueDelete(req, false, false, false)
		cch.QueueDelete(rep, false, false, false)
	}()
	if _, err := cch.QueueDeclare(req, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		return err
	}
	if _, err := cch.QueueDeclare(rep, true, false, false, false, nil); err != nil {
		return err
	}
	if err := cch.Confirm(false); err != nil {
		return err
	}
	if err := cch.Qos(1000, 0, false); err != nil {
		return err
	}
	replies, err := cch.Consume(rep, "", false, false, false, false, nil)
	if err != nil {
		return err
	}
	sch, err := server.Channel()
	if err != nil {
		return err
	}
	if err := sch.Confirm(false); err != nil {
		return err
	}
	if err := sch.Qos(100, 0, false); err != nil {
		return err
	}
	requests, err := sch.Consume(req, "", false, false, false, false, nil)
	if err != nil {
		return err
	}
	ctx := context.Background()
	go serve(ctx, sch, requests, rep)

	body := []byte(`{"run_id":"floor","task_id":"n1","kind":"echo","args":[1]}`)
	publish := func() (*amqp.DeferredConfirmation, error) {
		return cch.PublishWithDeferredConfirmWithContext(ctx, "", req, false, false,
			amqp.Publishing{Body: body, DeliveryMode: amqp.Persistent})
	}

	// Warm up, then time round trips one at a time.
	lat := make([]time.Duration, 0, trips)
	for i := range trips + 20 {
		start := time.Now()
		c, err := publish()
		if err != nil {
			return err
		}
		if !c.Wait() {
			return fmt.Errorf("publish not confirmed")
		}
		d := <-replies
		d.Ack(false)
		if i >= 20 {
			lat = append(lat, time.Since(start))
		}
	}
	slices.Sort(lat)
	out := []string{fmt.Sprintf("rtt_ms=%.3f", ms(lat[len(lat)/2]))}

	for _, f := range strings.Split(pipes, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n < 1 {
			return fmt.Errorf("-pipe: bad size %q", f)
		}
		start := time.Now()
		confirms := make([]*amqp.DeferredConfirmation, n)
		for i := range n {
			if confirms[i], err = publish(); err != nil {
				return err
			}
		}
		for _, c := range confirms {
			if !c.Wait() {
				return fmt.Errorf("publish not confirmed")
			}
		}
		for i := range n {
			d := <-replies
			// One ack for many, as a consumer that batches its acks does.
			if i%100 == 99 || i == n-1 {
				d.Ack(true)
			}
		}
		out = append(out, fmt.Sprintf("pipe%d_s=%.3f", n, time.Since(start).Seconds()))
	}
	fmt.Println(strings.Join(out, " "))
	return nil
}

// serve answers every request with a transient, confirmed reply (omp's
// events are transient) and acks the request once the reply is confirmed, as
// a worker reports before it acks.
func serve(ctx context.Context, ch *amqp.Channel, requests <-chan amqp.Delivery, rep string) {
	type pending struct {
		c *amqp.DeferredConfirmation
		d amqp.Delivery
	}
	// Confirms are awaited in order by one goroutine, so that the server
	// publishes the next reply while the broker confirms the last.
	q := make(chan pending, 1000)
	go func() {
		for p := range q {
			if p.c.Wait() {
				p.d.Ack(false)
			}
		}
	}()
	for d := range requests {
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", rep, false, false,
			amqp.Publishing{Body: d.Body, DeliveryMode: amqp.Transient})
		if err != nil {
			return
		}
		q <- pending{c, d}
	}
	close(q)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
