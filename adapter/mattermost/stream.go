package mattermost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// event is one message from the server on the websocket: an event, such as
// "hello" or "posted", or the reply to a message the adapter sent, which
// has no Event but a Status and SeqReply.
type event struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	Seq   int64           `json:"seq"`

	Status   string `json:"status"`
	SeqReply int64  `json:"seq_reply"`
	Error    *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// postedData is the data of a "posted" event. The post comes encoded as a
// JSON string inside the event's JSON.
type postedData struct {
	ChannelType string `json:"channel_type"`
	Post        string `json:"post"`
}

const (
	// pingWait is how long the connection may stay silent. The server
	// pings every minute; a connection that misses a ping is dead even
	// if the operating system has not noticed.
	pingWait = 65 * time.Second
	// writeWait bounds one write to the websocket.
	writeWait = 10 * time.Second
	// authSeq is the sequence number of the authentication challenge, the
	// only message the adapter sends.
	authSeq = 1
)

// stream is one websocket connection, read by its own goroutine into
// events. When the connection ends, events is closed and err says why.
type stream struct {
	conn   *websocket.Conn
	events chan event
	err    error // set before events is closed

	done      chan struct{}
	closeOnce sync.Once
}

// dial opens the websocket at wsURL and authenticates with token. The
// server answers the challenge with a reply and then a "hello" event.
func dial(ctx context.Context, wsURL, token string) (*stream, error) {
	dialer := &websocket.Dialer{HandshakeTimeout: helloWait, Proxy: http.ProxyFromEnvironment}
	conn, _, err := dialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(writeWait))
	challenge := map[string]any{"seq": authSeq, "action": "authentication_challenge", "data": map[string]string{"token": token}}
	if err := conn.WriteJSON(challenge); err != nil {
		conn.Close()
		return nil, err
	}
	s := &stream{conn: conn, events: make(chan event, 64), done: make(chan struct{})}
	go s.read()
	return s, nil
}

// Close ends the connection; events is closed soon after.
func (s *stream) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.conn.Close()
	})
}

// read passes what the server sends to events until the connection ends.
// The server numbers its events 0, 1, 2, … on each connection; a gap means
// it dropped some, and the connection is ended so the reconnect catches up
// on the posts among them.
func (s *stream) read() {
	defer close(s.events)
	alive := func() { s.conn.SetReadDeadline(time.Now().Add(pingWait)) }
	alive()
	s.conn.SetPingHandler(func(data string) error {
		alive()
		err := s.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	var next int64
	for {
		var ev event
		if err := s.conn.ReadJSON(&ev); err != nil {
			s.err = err
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				s.err = fmt.Errorf("the server went silent for %v", pingWait)
			}
			return
		}
		alive()
		if ev.Event != "" {
			if ev.Seq != next {
				s.err = fmt.Errorf("event %d came where %d was due: the server dropped some", ev.Seq, next)
				return
			}
			next++
		}
		select {
		case s.events <- ev:
		case <-s.done:
			return
		}
	}
}
