package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

func init() {
	dialBackoff = func(int) time.Duration { return 10 * time.Millisecond }
}

const testURN = "urn:pulumi:dev::proj::command:remote:Command::step"

// recLogger records what the provider sends to the engine.
type recLogger struct {
	mu   sync.Mutex
	msgs []logMsg
}

type logMsg struct {
	sev       pulumirpc.LogSeverity
	urn, msg  string
	ephemeral bool
}

func (l *recLogger) Log(_ context.Context, sev pulumirpc.LogSeverity, urn, msg string, eph bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, logMsg{sev, urn, msg, eph})
}

func (l *recLogger) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, m := range l.msgs {
		fmt.Fprintf(&b, "%v eph=%v %s\n", m.sev, m.ephemeral, m.msg)
	}
	return b.String()
}

func (l *recLogger) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.msgs {
		if m.sev == pulumirpc.LogSeverity_WARNING {
			out = append(out, m.msg)
		}
	}
	return out
}

func connProps(c connSpec) resource.PropertyMap {
	m := resource.PropertyMap{
		"host":           resource.NewProperty(c.Host),
		"port":           resource.NewProperty(float64(c.Port)),
		"user":           resource.NewProperty(c.User),
		"privateKey":     resource.NewProperty(c.PrivateKey),
		"dialErrorLimit": resource.NewProperty(float64(c.DialErrorLimit)),
		"perDialTimeout": resource.NewProperty(float64(c.PerDialTimeout)),
	}
	if c.HostKey != "" {
		m["hostKey"] = resource.NewProperty(c.HostKey)
	}
	return m
}

func mustStruct(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshal(m, "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustMap(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := unmarshal(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func run(t *testing.T, c connSpec, command string, stdin *string, logging string) (runResult, error, *recLogger) {
	t.Helper()
	log := &recLogger{}
	p := newProvider(log)
	spec := &commandSpec{Conn: c, Stdin: stdin, Logging: logging, AddPreviousOutputInEnv: true}
	res, err := p.run(context.Background(), "create", testURN, spec, command, nil, 0)
	return res, err, log
}

func strp(s string) *string { return &s }

// --- host keys -----------------------------------------------------------------

func TestPinnedHostKeyAccepted(t *testing.T) {
	s := startServer(t)
	res, err, log := run(t, s.conn(), "echo hello", nil, logStdoutAndStderr)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Stdout != "hello" {
		t.Fatalf("stdout = %q, want hello", res.Stdout)
	}
	if w := log.warnings(); len(w) != 0 {
		t.Fatalf("unexpected warnings: %v", w)
	}
}

func TestWrongHostKeyRefusedNothingRuns(t *testing.T) {
	s := startServer(t)
	other, _ := newSigner(t)
	c := s.conn()
	c.HostKey = authorizedLine(other.PublicKey())
	c.DialErrorLimit = 5
	_, err, _ := run(t, c, "echo must-not-run", nil, logStdoutAndStderr)
	if err == nil {
		t.Fatal("want an error")
	}
	want := fmt.Sprintf("ssh %s: host key mismatch: expected ssh-ed25519 %s, got ssh-ed25519 %s",
		s.addr, ssh.FingerprintSHA256(other.PublicKey()), ssh.FingerprintSHA256(s.hostKeys[0].PublicKey()))
	if err.Error() != want {
		t.Fatalf("error = %q\nwant    %q", err, want)
	}
	if got := s.ran(); len(got) != 0 {
		t.Fatalf("commands ran: %v", got)
	}
	if n := s.connCount(); n != 1 {
		t.Fatalf("dialed %d times; a mismatch must not be retried", n)
	}
}

// The server holds an ed25519 and an ECDSA key; pinning either works because
// only the pinned key's algorithm is offered.
func TestPinnedKeyAlgorithmOffered(t *testing.T) {
	ed, _ := newSigner(t)
	ec := newECDSASigner(t)
	s := startServer(t, ed, ec)
	for _, k := range []ssh.PublicKey{ed.PublicKey(), ec.PublicKey()} {
		c := s.conn()
		c.HostKey = authorizedLine(k)
		if _, err, _ := run(t, c, "true", nil, logStdoutAndStderr); err != nil {
			t.Fatalf("pinned %s: %v", k.Type(), err)
		}
	}
}

func TestNoHostKeyAcceptsWithWarning(t *testing.T) {
	s := startServer(t)
	c := s.conn()
	c.HostKey = ""
	if _, err, log := run(t, c, "true", nil, logStdoutAndStderr); err != nil {
		t.Fatal(err)
	} else if w := log.warnings(); len(w) != 1 || !strings.Contains(w[0], "hostKey is not set") {
		t.Fatalf("warnings = %v", w)
	}
}

// --- running ---------------------------------------------------------------------

func TestStdinReachesCommand(t *testing.T) {
	s := startServer(t)
	in := "line one\nsecret=hunter2\n"
	res, err, _ := run(t, s.conn(), "cat; echo done", strp(in), logNone)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "line one\nsecret=hunter2\ndone" {
		t.Fatalf("stdout = %q", res.Stdout)
	}
}

func TestNonZeroExitIsErrorWithoutCommandText(t *testing.T) {
	s := startServer(t)
	command := "echo progress-line; echo oops >&2; : MARKER-IN-COMMAND; exit 3"
	_, err, log := run(t, s.conn(), command, nil, logStdoutAndStderr)
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	if strings.Contains(msg, "MARKER-IN-COMMAND") {
		t.Fatalf("error contains the command text: %q", msg)
	}
	for _, want := range []string{"exit status 3", "progress-line", "oops", s.addr} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q lacks %q", msg, want)
		}
	}
	if !strings.Contains(log.text(), "progress-line") {
		t.Fatalf("output not streamed to the engine:\n%s", log.text())
	}
	if strings.Contains(log.text(), "MARKER-IN-COMMAND") {
		t.Fatalf("command text logged:\n%s", log.text())
	}
}

func TestLoggingNoneHidesOutput(t *testing.T) {
	s := startServer(t)
	_, err, log := run(t, s.conn(), "echo s3cr3t-out; echo s3cr3t-err >&2; exit 1", nil, logNone)
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error shows output with logging none: %q", err)
	}
	if !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("error lacks the exit status: %q", err)
	}
	if strings.Contains(log.text(), "s3cr3t") {
		t.Fatalf("output logged with logging none:\n%s", log.text())
	}
}

func TestLoggingStdoutOnly(t *testing.T) {
	s := startServer(t)
	_, err, log := run(t, s.conn(), "echo visible; echo hidden >&2; exit 1", nil, logStdout)
	if err == nil || !strings.Contains(err.Error(), "visible") || strings.Contains(err.Error(), "hidden") {
		t.Fatalf("error = %v", err)
	}
	if strings.Contains(log.text(), "hidden") || !strings.Contains(log.text(), "visible") {
		t.Fatalf("log:\n%s", log.text())
	}
}

func TestErrorShowsOnlyLastLines(t *testing.T) {
	s := startServer(t)
	_, err, _ := run(t, s.conn(), "for i in $(seq 1 100); do echo line-$i; done; exit 2", nil, logStdoutAndStderr)
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "line-60\n") || !strings.Contains(err.Error(), "line-61\n") ||
		!strings.Contains(err.Error(), "line-100") {
		t.Fatalf("want exactly the last 40 lines:\n%s", err)
	}
}

func TestDialRetriesCount(t *testing.T) {
	// A listener that accepts and drops every connection: each attempt fails.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	accepts := 0
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepts++
			mu.Unlock()
			_ = c.Close()
		}
	}()
	s := startServer(t) // only for a valid key pair
	c := s.conn()
	c.Port = l.Addr().(*net.TCPAddr).Port
	c.DialErrorLimit = 4
	_, err, log := run(t, c, "true", nil, logStdoutAndStderr)
	if err == nil {
		t.Fatal("want an error")
	}
	want := fmt.Sprintf("ssh %s: could not connect after 4 attempts", l.Addr())
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %q, want prefix %q", err, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if accepts != 4 {
		t.Fatalf("server saw %d connections, want 4", accepts)
	}
	if !strings.Contains(log.text(), "attempt 3/4 failed") {
		t.Fatalf("no retry status:\n%s", log.text())
	}
}

func TestPerDialTimeout(t *testing.T) {
	// Accepts but never speaks SSH: the handshake must time out per attempt.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	s := startServer(t)
	c := s.conn()
	c.Port = l.Addr().(*net.TCPAddr).Port
	c.DialErrorLimit = 2
	c.PerDialTimeout = 1
	start := time.Now()
	_, err, _ = run(t, c, "true", nil, logStdoutAndStderr)
	if err == nil || !strings.Contains(err.Error(), "after 2 attempts") || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("error = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestCancelAbortsRunningCommand(t *testing.T) {
	s := startServer(t)
	p := newProvider(&recLogger{})
	spec := &commandSpec{Conn: s.conn(), Logging: logStdoutAndStderr}
	errc := make(chan error, 1)
	go func() {
		_, err := p.run(context.Background(), "create", testURN, spec, "sleep 30", nil, 0)
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.ran()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := p.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "cancelled") {
			t.Fatalf("error = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Cancel did not abort the running command")
	}
}

func TestTimeoutAbortsRunningCommand(t *testing.T) {
	s := startServer(t)
	p := newProvider(&recLogger{})
	spec := &commandSpec{Conn: s.conn(), Logging: logStdoutAndStderr}
	start := time.Now()
	_, err := p.run(context.Background(), "create", testURN, spec, "sleep 30", nil, 1)
	if err == nil || !strings.Contains(err.Error(), "timed out after 1s") || time.Since(start) > 5*time.Second {
		t.Fatalf("error = %v after %s", err, time.Since(start))
	}
}

// --- the gRPC resource calls --------------------------------------------------------

func TestCheckDefaultsAndErrors(t *testing.T) {
	p := newProvider(&recLogger{})
	news := resource.PropertyMap{
		"connection": resource.NewProperty(resource.PropertyMap{"host": resource.NewProperty("10.0.0.1")}),
		"create":     resource.NewProperty("true"),
	}
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: testURN, News: mustStruct(t, news)})
	if err != nil || len(resp.Failures) != 0 {
		t.Fatalf("err=%v failures=%v", err, resp.GetFailures())
	}
	conn := mustMap(t, resp.Inputs)["connection"].ObjectValue()
	if conn["port"].NumberValue() != 22 || conn["user"].StringValue() != "root" ||
		conn["dialErrorLimit"].NumberValue() != 10 || conn["perDialTimeout"].NumberValue() != 15 {
		t.Fatalf("defaults not applied: %v", conn)
	}

	bad := resource.PropertyMap{
		"connection": resource.NewProperty(resource.PropertyMap{
			"host":       resource.NewProperty("10.0.0.1"),
			"port":       resource.NewProperty(70000.0),
			"hostKey":    resource.NewProperty("not-a-key"),
			"privateKey": resource.NewProperty("PRIVATE-KEY-CANARY"),
			"proxy":      resource.NewProperty(resource.PropertyMap{"host": resource.NewProperty("b")}),
		}),
		"logging": resource.NewProperty("loud"),
	}
	resp, err = p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: testURN, News: mustStruct(t, bad)})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, f := range resp.Failures {
		reasons = append(reasons, f.Reason)
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{"connection.port: must be an integer from 1 to 65535, got 70000",
		"connection.hostKey: not an SSH public key line", "connection.privateKey: cannot parse",
		"connection.proxy: bastion/proxy connections are not supported", `logging: must be one of`} {
		if !strings.Contains(all, want) {
			t.Errorf("failures lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "CANARY") {
		t.Errorf("a failure shows the private key:\n%s", all)
	}

	// Unknown values (preview) pass.
	unknown := resource.PropertyMap{
		"connection": resource.MakeComputed(resource.NewProperty("")),
		"create":     resource.MakeComputed(resource.NewProperty("")),
	}
	resp, err = p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: testURN, News: mustStruct(t, unknown)})
	if err != nil || len(resp.Failures) != 0 {
		t.Fatalf("unknowns: err=%v failures=%v", err, resp.GetFailures())
	}
}

func TestDiff(t *testing.T) {
	p := newProvider(&recLogger{})
	base := func() resource.PropertyMap {
		return resource.PropertyMap{
			"connection": resource.NewProperty(resource.PropertyMap{"host": resource.NewProperty("h")}),
			"create":     resource.NewProperty("run"),
			"stdin":      resource.NewProperty("in"),
			"triggers":   resource.NewProperty([]resource.PropertyValue{resource.NewProperty("a"), resource.NewProperty(1.0)}),
		}
	}
	diff := func(olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
		t.Helper()
		outs := olds.Copy()
		outs["stdout"] = resource.NewProperty("previous")
		resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
			Urn: testURN, Olds: mustStruct(t, outs), OldInputs: mustStruct(t, olds), News: mustStruct(t, news),
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	if r := diff(base(), base()); r.Changes != pulumirpc.DiffResponse_DIFF_NONE || len(r.DetailedDiff) != 0 {
		t.Fatalf("same inputs: %v", r)
	}

	n := base()
	n["stdin"] = resource.NewProperty("changed")
	r := diff(base(), n)
	if r.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(r.Replaces) != 0 ||
		r.DetailedDiff["stdin"].GetKind() != pulumirpc.PropertyDiff_UPDATE {
		t.Fatalf("stdin change: want update, got %v", r)
	}

	n = base()
	n["triggers"] = resource.NewProperty([]resource.PropertyValue{resource.NewProperty("b"), resource.NewProperty(1.0)})
	r = diff(base(), n)
	if r.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(r.Replaces) != 1 || r.Replaces[0] != "triggers" ||
		r.DetailedDiff["triggers[0]"].GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE || len(r.DetailedDiff) != 1 {
		t.Fatalf("triggers change: want replace, got %v", r)
	}

	n = base()
	n["update"] = resource.NewProperty("upd")
	r = diff(base(), n)
	if r.DetailedDiff["update"].GetKind() != pulumirpc.PropertyDiff_ADD || len(r.Replaces) != 0 {
		t.Fatalf("added update: %v", r)
	}

	// Unknown in preview: a change, and a replacement for triggers.
	n = base()
	n["create"] = resource.MakeComputed(resource.NewProperty(""))
	if r = diff(base(), n); r.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(r.Replaces) != 0 {
		t.Fatalf("unknown create: %v", r)
	}
	n = base()
	n["triggers"] = resource.MakeComputed(resource.NewProperty(""))
	if r = diff(base(), n); len(r.Replaces) != 1 {
		t.Fatalf("unknown triggers: %v", r)
	}

	// A connection default filled in by Check is no change.
	n = base()
	n["connection"].ObjectValue()["port"] = resource.NewNullProperty()
	if r = diff(base(), n); r.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("null vs absent: %v", r)
	}
}

func TestCreateUpdateDelete(t *testing.T) {
	s := startServer(t)
	log := &recLogger{}
	p := newProvider(log)
	ctx := context.Background()
	inputs := resource.PropertyMap{
		"connection": resource.NewProperty(connProps(s.conn())),
		"create":     resource.NewProperty("echo created; cat"),
		"delete":     resource.NewProperty(`echo "deleting after: $PULUMI_COMMAND_STDOUT"`),
		"stdin":      resource.NewProperty("from-stdin"),
		"triggers":   resource.NewProperty([]resource.PropertyValue{resource.NewProperty("t1")}),
	}

	// Preview: nothing runs, outputs unknown.
	pc, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: mustStruct(t, inputs), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if !mustMap(t, pc.Properties)["stdout"].IsComputed() || len(s.ran()) != 0 {
		t.Fatalf("preview create: %v, ran %v", pc.Properties, s.ran())
	}

	cr, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Name: "step", Properties: mustStruct(t, inputs)})
	if err != nil {
		t.Fatal(err)
	}
	outs := mustMap(t, cr.Properties)
	if !strings.HasPrefix(cr.Id, "step") || outs["stdout"].StringValue() != "created\nfrom-stdin" ||
		outs["stdin"].StringValue() != "from-stdin" {
		t.Fatalf("create: id=%s outs=%v", cr.Id, outs)
	}

	// Update without `update` runs create again, with the previous stdout in env.
	news := inputs.Copy()
	news["stdin"] = resource.NewProperty("second")
	ur, err := p.Update(ctx, &pulumirpc.UpdateRequest{
		Urn: testURN, Id: cr.Id, Olds: cr.Properties, OldInputs: mustStruct(t, inputs), News: mustStruct(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustMap(t, ur.Properties)["stdout"].StringValue(); got != "created\nsecond" {
		t.Fatalf("update stdout = %q", got)
	}
	if env := s.lastEnv(); env[envPrevStdout] != "created\nfrom-stdin" {
		t.Fatalf("previous stdout not in env: %v", env)
	}

	// With `update` set, it runs instead of create.
	news2 := news.Copy()
	news2["update"] = resource.NewProperty("echo updated")
	ur2, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN, Olds: ur.Properties, News: mustStruct(t, news2)})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustMap(t, ur2.Properties)["stdout"].StringValue(); got != "updated" {
		t.Fatalf("update stdout = %q", got)
	}

	// Read returns the state untouched, without running anything.
	before := len(s.ran())
	rr, err := p.Read(ctx, &pulumirpc.ReadRequest{Urn: testURN, Id: cr.Id, Properties: ur2.Properties})
	if err != nil || rr.Id != cr.Id || len(s.ran()) != before {
		t.Fatalf("read: %v %v", rr, err)
	}

	// Delete runs `delete` with the last stdout in env.
	if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{Urn: testURN, Id: cr.Id, Properties: ur2.Properties}); err != nil {
		t.Fatal(err)
	}
	ran := s.ran()
	if len(ran) != 4 || !strings.HasPrefix(ran[3], "echo \"deleting") || s.lastEnv()[envPrevStdout] != "updated" {
		t.Fatalf("ran %q env %v", ran, s.lastEnv())
	}
}

func TestRefusedEnvironment(t *testing.T) {
	s := startServer(t)
	s.acceptEnv = false
	log := &recLogger{}
	p := newProvider(log)
	spec := &commandSpec{Conn: s.conn(), Logging: logStdoutAndStderr, AddPreviousOutputInEnv: true,
		Environment: map[string]string{"FOO": "secret-value"}}
	_, err := p.run(context.Background(), "create", testURN, spec, "true", nil, 0)
	if err == nil || !strings.Contains(err.Error(), "environment.FOO") || strings.Contains(err.Error(), "secret-value") {
		t.Fatalf("error = %v", err)
	}
	if len(s.ran()) != 0 {
		t.Fatal("command ran without its environment")
	}
	// The previous output is optional: refused, the command still runs.
	spec.Environment = nil
	prev := resource.PropertyMap{"stdout": resource.NewProperty("old")}
	if _, err := p.run(context.Background(), "update", testURN, spec, "true", prev, 0); err != nil {
		t.Fatal(err)
	}
	if w := log.warnings(); len(w) != 1 || !strings.Contains(w[0], envPrevStdout) {
		t.Fatalf("warnings = %v", w)
	}
}

func TestUnsupportedType(t *testing.T) {
	p := newProvider(&recLogger{})
	_, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: "urn:pulumi:dev::proj::command:local:Command::x", News: &structpb.Struct{},
	})
	if err == nil || !strings.Contains(err.Error(), "command:local:Command") {
		t.Fatalf("error = %v", err)
	}
}

func TestLongProgressLineTruncated(t *testing.T) {
	s := startServer(t)
	res, err, log := run(t, s.conn(), "head -c 5000 /dev/zero | tr '\\0' x; echo", nil, logStdoutAndStderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stdout) != 5000 {
		t.Fatalf("stdout has %d bytes, want all 5000", len(res.Stdout))
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, m := range log.msgs {
		if len(m.msg) > progressLineMax+10 {
			t.Fatalf("progress line of %d bytes sent", len(m.msg))
		}
	}
}
