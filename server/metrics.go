package server

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg            *prometheus.Registry
	ops            *prometheus.CounterVec
	opSeconds      *prometheus.HistogramVec
	appendedEvents prometheus.Counter
	appendedBytes  prometheus.Counter
	followers      prometheus.Gauge
	authFailures   *prometheus.CounterVec
	requests       *prometheus.CounterVec
	inflight       prometheus.Gauge

	// The series each request touches, looked up once rather than by
	// hashing their labels per request.
	byOp     sync.Map // op name -> *opSeries
	byAnswer sync.Map // answerKey -> prometheus.Counter
}

// opSeries are the series of one operation that succeeded.
type opSeries struct {
	seconds prometheus.Observer
	ok      prometheus.Counter
}

type answerKey struct {
	endpoint string
	code     int
}

func (m *metrics) opSeriesOf(name string) *opSeries {
	if v, ok := m.byOp.Load(name); ok {
		return v.(*opSeries)
	}
	v, _ := m.byOp.LoadOrStore(name, &opSeries{
		seconds: m.opSeconds.WithLabelValues(name),
		ok:      m.ops.WithLabelValues(name, "ok"),
	})
	return v.(*opSeries)
}

// request counts one answered request.
func (m *metrics) request(endpoint string, code int) {
	k := answerKey{endpoint, code}
	v, ok := m.byAnswer.Load(k)
	if !ok {
		v, _ = m.byAnswer.LoadOrStore(k, m.requests.WithLabelValues(endpoint, strconv.Itoa(code)))
	}
	v.(prometheus.Counter).Inc()
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persist_ops_total", Help: "Operations performed, by operation and outcome (ok or the error kind).",
		}, []string{"op", "outcome"}),
		opSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "persist_op_seconds", Help: "Time the store took to answer an operation.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 18),
		}, []string{"op"}),
		appendedEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "persist_appended_events_total", Help: "Events appended (acknowledged), retries answered from stored events included.",
		}),
		appendedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "persist_appended_bytes_total", Help: "Data bytes of the events appended.",
		}),
		followers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "persist_followers", Help: "Follows open now.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persist_auth_failures_total", Help: "Requests refused by access control, by reason (missing, malformed, unknown, forbidden).",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persist_http_requests_total", Help: "HTTP requests answered, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "persist_inflight_requests", Help: "Requests being served now.",
		}),
	}
	m.reg.MustRegister(m.ops, m.opSeconds, m.appendedEvents, m.appendedBytes, m.followers,
		m.authFailures, m.requests, m.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) authFailure(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

// observe counts one operation and its outcome.
func (m *metrics) observe(op effect.Effect, err error, took time.Duration) {
	name := op.EffectName()
	series := m.opSeriesOf(name)
	series.seconds.Observe(took.Seconds())
	if err != nil {
		m.ops.WithLabelValues(name, errorKind(err)).Inc()
		return
	}
	series.ok.Inc()
	var events, bytes int
	count := func(a ops.Append) {
		events += len(a.Events)
		for _, e := range a.Events {
			bytes += len(e.Data)
		}
	}
	switch o := op.(type) {
	case ops.Append:
		count(o)
	case ops.Commit:
		for _, a := range o.Appends {
			count(a)
		}
	}
	if events > 0 {
		m.appendedEvents.Add(float64(events))
		m.appendedBytes.Add(float64(bytes))
	}
}
