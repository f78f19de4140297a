package runtime

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// TestTaskMessageWire pins the wire form of a task message: workers of other
// versions of omp read it.
func TestTaskMessageWire(t *testing.T) {
	m := &TaskMessage{
		RunID: "r1", TaskID: "n3", Attempt: 2, Dispatch: 1,
		Kind: "script", Name: "prep", Action: "run",
		Args:   []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`{"a":[true]}`)},
		Kwargs: map[string]json.RawMessage{"k": json.RawMessage(`"v"`)},
		Input:  json.RawMessage(`[1,2]`),
		Label:  "gpu",
		Options: Options{
			Retries: 3, Timeout: Duration(90 * time.Second), Backoff: Duration(time.Second),
		},
		Store: "/data", ReplyTo: EventTopic("r1"),
		LeaseInterval: Duration(10 * time.Second), ClaimWithin: Duration(10 * time.Millisecond),
	}
	msg, err := EncodeTask(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"run_id":"r1","task_id":"n3","attempt":2,"dispatch":1,"kind":"script","name":"prep","action":"run",` +
		`"args":[1,{"a":[true]}],"kwargs":{"k":"v"},"input":[1,2],"label":"gpu",` +
		`"options":{"retries":3,"timeout":"1m30s","backoff":"1s"},"store":"/data","reply_to":"omp.events.r1",` +
		`"lease_interval":"10s","claim_within":"10ms"}`
	if string(msg.Payload) != want {
		t.Errorf("payload\n%s\nwant\n%s", msg.Payload, want)
	}
	back, err := DecodeTask(msg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := EncodeTask(back)
	if string(again.Payload) != want {
		t.Errorf("round trip changed the message:\n%s", again.Payload)
	}
}

func TestEventWire(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	e := &Event{Type: EventBatch, RunID: "r1", Worker: "w", Time: at, Events: []*Event{
		{Type: EventLog, RunID: "r1", TaskID: "n1", Attempt: 1, Dispatch: 1, Worker: "w", Delivery: "w/1", Seq: 1, Time: at, Line: "hi"},
		{Type: EventFailure, RunID: "r1", TaskID: "n1", Attempt: 1, Dispatch: 1, Worker: "w", Delivery: "w/1", Seq: 2, Time: at,
			Started: at, Error: "boom", Permanent: true},
	}}
	msg, err := EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"type":"BATCH","run_id":"r1","worker":"w","time":"2026-11-25T09:00:00Z","events":[` +
		`{"v":0,"type":"LOG","run_id":"r1","task_id":"n1","attempt":1,"dispatch":1,"worker":"w","delivery":"w/1","time":"2026-11-25T09:00:00Z","line":"hi","seq":1},` +
		`{"v":0,"type":"FAILURE","run_id":"r1","task_id":"n1","attempt":1,"dispatch":1,"worker":"w","delivery":"w/1","time":"2026-11-25T09:00:00Z","started":"2026-11-25T09:00:00Z","seq":2,"error":"boom","permanent":true}]}`
	if string(msg.Payload) != want {
		t.Errorf("payload\n%s\nwant\n%s", msg.Payload, want)
	}
	back, err := DecodeEvent(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Events) != 2 || back.Events[1].Error != "boom" || !back.Events[1].Permanent || back.Events[0].Seq != 1 {
		t.Errorf("decoded %+v", back)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    string
	}{
		{"other version", `{"v":2,"run_id":"r"}`, "decode task message m1: unsupported message version 2 (want 1)"},
		{"no version", `{"run_id":"r"}`, "decode task message m1: unsupported message version 0 (want 1)"},
		{"not JSON", `run it`, "decode task message m1: invalid character 'r' looking for beginning of value"},
		{"bad duration", `{"v":1,"options":{"timeout":"soon"}}`, `decode task message m1: duration: time: invalid duration "soon"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTask(message.NewMessage("m1", []byte(tc.payload)))
			if err == nil || err.Error() != tc.want {
				t.Errorf("err %v, want %q", err, tc.want)
			}
			if tc.name == "other version" && !errors.Is(err, ErrVersion) {
				t.Error("not ErrVersion")
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		base    time.Duration
		attempt int
		want    time.Duration
	}{
		{0, 3, 0},
		{time.Second, 1, time.Second},
		{time.Second, 2, 2 * time.Second},
		{time.Second, 4, 8 * time.Second},
		{time.Second, 10, time.Minute},
		{time.Second, 1000, time.Minute},
		{2 * time.Minute, 1, time.Minute},
	}
	for _, tc := range tests {
		if got := backoff(tc.base, tc.attempt, time.Minute); got != tc.want {
			t.Errorf("backoff(%s, %d) = %s, want %s", tc.base, tc.attempt, got, tc.want)
		}
	}
}
