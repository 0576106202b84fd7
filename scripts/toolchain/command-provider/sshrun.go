package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Tunables (tests shorten them).
var (
	// dialBackoff returns the pause before dial attempt n+1 after attempt n failed.
	dialBackoff = func(n int) time.Duration {
		d := time.Duration(n) * time.Second
		if d > 5*time.Second {
			d = 5 * time.Second
		}
		return d
	}
	// errorTailLines is how many output lines a failed command's error shows.
	errorTailLines = 40
)

// progressLineMax bounds one progress line sent to the engine (bytes).
const progressLineMax = 1000

// truncate shortens s to at most max bytes on a UTF-8 boundary, marking the cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " [...]"
}

// Environment variables carrying the previous run's output.
const (
	envPrevStdout = "PULUMI_COMMAND_STDOUT"
	envPrevStderr = "PULUMI_COMMAND_STDERR"
)

// hostKeyMismatchError: the server presented another key than the pinned one.
// Never retried: retrying cannot fix it, and it may be an attack.
type hostKeyMismatchError struct {
	addr          string
	expected, got ssh.PublicKey
}

func (e *hostKeyMismatchError) Error() string {
	return fmt.Sprintf("ssh %s: host key mismatch: expected %s %s, got %s %s", e.addr,
		e.expected.Type(), ssh.FingerprintSHA256(e.expected), e.got.Type(), ssh.FingerprintSHA256(e.got))
}

// hostKeyAlgorithms are the algorithms to offer so that the server presents the
// pinned key: an RSA key can sign with SHA-2 (preferred) or SHA-1.
func hostKeyAlgorithms(key ssh.PublicKey) []string {
	if key.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{key.Type()}
}

// dialer opens SSH connections for one operation.
type dialer struct {
	warn   func(string) // a warning for the user (not ephemeral)
	status func(string) // a progress line (ephemeral)
}

// clientConfig builds the SSH client config. The returned closer releases an
// agent connection, if any.
func (d *dialer) clientConfig(c connSpec, addr string) (*ssh.ClientConfig, func(), error) {
	cfg := &ssh.ClientConfig{User: c.User}
	closer := func() {}

	if c.PrivateKey != "" {
		signer, err := parsePrivateKey(c.PrivateKey, c.PrivateKeyPassword)
		if err != nil {
			return nil, closer, fmt.Errorf("connection.privateKey: %v", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != "" {
		pw := c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	sock := c.AgentSocketPath
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			if c.AgentSocketPath != "" {
				return nil, closer, fmt.Errorf("connection.agentSocketPath: %v", err)
			}
		} else {
			closer = func() { _ = conn.Close() }
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	if len(cfg.Auth) == 0 {
		return nil, closer, fmt.Errorf("connection: no credentials: set privateKey, password or agentSocketPath")
	}

	if c.HostKey != "" {
		pinned, err := parseHostKey(c.HostKey)
		if err != nil {
			closer()
			return nil, func() {}, fmt.Errorf("connection.hostKey: %v", err)
		}
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(pinned)
		cfg.HostKeyCallback = func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if bytes.Equal(key.Marshal(), pinned.Marshal()) {
				return nil
			}
			return &hostKeyMismatchError{addr: addr, expected: pinned, got: key}
		}
	} else {
		var once sync.Once
		cfg.HostKeyCallback = func(_ string, _ net.Addr, key ssh.PublicKey) error {
			once.Do(func() {
				d.warn(fmt.Sprintf("ssh %s: connection.hostKey is not set: accepting the host key %s %s "+
					"without verification; pin it with connection.hostKey", addr, key.Type(), ssh.FingerprintSHA256(key)))
			})
			return nil
		}
	}
	return cfg, closer, nil
}

// dial connects with up to c.DialErrorLimit attempts (-1: until ctx ends), each
// limited to c.PerDialTimeout seconds, with a short pause between attempts.
func (d *dialer) dial(ctx context.Context, c connSpec) (*ssh.Client, func(), error) {
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	cfg, closer, err := d.clientConfig(c, addr)
	if err != nil {
		return nil, closer, err
	}
	limit := c.DialErrorLimit
	if limit == 0 {
		limit = 1
	}
	perDial := time.Duration(c.PerDialTimeout) * time.Second

	var lastErr error
	attempt := 0
	for limit < 0 || attempt < limit {
		attempt++
		client, err := dialOnce(ctx, addr, cfg, perDial)
		if err == nil {
			return client, closer, nil
		}
		var mismatch *hostKeyMismatchError
		if errors.As(err, &mismatch) {
			closer()
			return nil, func() {}, mismatch
		}
		if ctx.Err() != nil {
			closer()
			return nil, func() {}, fmt.Errorf("ssh %s: %w", addr, context.Cause(ctx))
		}
		lastErr = err
		if limit >= 0 && attempt >= limit {
			break
		}
		pause := dialBackoff(attempt)
		of := strconv.Itoa(limit)
		if limit < 0 {
			of = "unlimited"
		}
		d.status(fmt.Sprintf("ssh %s: attempt %d/%s failed (%v); retrying in %s", addr, attempt, of, err, pause))
		select {
		case <-ctx.Done():
			closer()
			return nil, func() {}, fmt.Errorf("ssh %s: %w", addr, context.Cause(ctx))
		case <-time.After(pause):
		}
	}
	closer()
	noun := "attempts"
	if attempt == 1 {
		noun = "attempt"
	}
	return nil, func() {}, fmt.Errorf("ssh %s: could not connect after %d %s: %w", addr, attempt, noun, lastErr)
}

// dialOnce makes one TCP connection and SSH handshake within perDial (0: no
// limit), aborted when ctx ends.
func dialOnce(ctx context.Context, addr string, cfg *ssh.ClientConfig, perDial time.Duration) (*ssh.Client, error) {
	if perDial > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, perDial)
		defer cancel()
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The handshake honours no context: close the socket if ctx ends first.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() {
		// ctx ended during the handshake and the socket is closed.
		if err == nil {
			_ = c.Close()
		}
		var mismatch *hostKeyMismatchError
		if errors.As(err, &mismatch) {
			return nil, err
		}
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("SSH handshake timed out after %s", perDial)
		}
		return nil, ctx.Err()
	}
	if err != nil {
		_ = conn.Close()
		// The socket deadline can fire before the context does: same timeout, same words.
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("SSH handshake timed out after %s", perDial)
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// runRequest is one remote command run.
type runRequest struct {
	Op      string // create, update or delete: named in errors
	Conn    connSpec
	Command string
	Stdin   *string
	// Env: user-requested variables (a refusal is an error) and optional ones
	// (a refusal is a warning).
	Env, OptionalEnv map[string]string
	Logging          string
	Progress         func(line string) // each output line the logging mode allows
	Warn             func(msg string)
	Status           func(msg string)
}

type runResult struct {
	Stdout, Stderr string
}

// runRemote runs one command over its own SSH connection and session. It never
// puts the command text into an error; output appears in errors only as far as
// req.Logging allows.
func runRemote(ctx context.Context, req runRequest) (runResult, error) {
	d := &dialer{warn: req.Warn, status: req.Status}
	client, closer, err := d.dial(ctx, req.Conn)
	defer closer()
	if err != nil {
		return runResult{}, err
	}
	defer client.Close()
	addr := net.JoinHostPort(req.Conn.Host, strconv.Itoa(req.Conn.Port))

	sess, err := client.NewSession()
	if err != nil {
		return runResult{}, fmt.Errorf("ssh %s: opening a session: %w", addr, err)
	}
	defer sess.Close()

	for _, name := range sortedKeys(req.Env) {
		if err := sess.Setenv(name, req.Env[name]); err != nil {
			return runResult{}, fmt.Errorf("ssh %s: environment.%s: the server refused the variable "+
				"(sshd passes only names listed in its AcceptEnv; Debian's default is LANG LC_*): "+
				"pass it on stdin or in the command instead", addr, name)
		}
	}
	var refused []string
	for _, name := range sortedKeys(req.OptionalEnv) {
		if err := sess.Setenv(name, req.OptionalEnv[name]); err != nil {
			refused = append(refused, name)
		}
	}
	if len(refused) > 0 {
		req.Warn(fmt.Sprintf("ssh %s: the server refused %s (not in sshd's AcceptEnv); the command runs "+
			"without it (addPreviousOutputInEnv: false stops sending it)", addr, strings.Join(refused, " and ")))
	}

	out := newOutputCollector(req.Logging, req.Progress)
	sess.Stdout = out.writer(logStdout)
	sess.Stderr = out.writer(logStderr)
	if req.Stdin != nil && *req.Stdin != "" {
		sess.Stdin = strings.NewReader(*req.Stdin) // copied, then EOF
	}

	if err := sess.Start(req.Command); err != nil {
		return runResult{}, fmt.Errorf("%s: ssh %s: starting the command: %w", req.Op, addr, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		// Ask the remote command to stop, then tear the connection down; Wait
		// returns once the channel is closed.
		_ = sess.Signal(ssh.SIGTERM)
		_ = sess.Close()
		_ = client.Close()
		<-done
		out.flush()
		return runResult{}, fmt.Errorf("%s: ssh %s: command aborted: %w", req.Op, addr, context.Cause(ctx))
	}
	out.flush()

	res := runResult{
		Stdout: strings.TrimSuffix(out.stdout.String(), "\n"),
		Stderr: strings.TrimSuffix(out.stderr.String(), "\n"),
	}
	res.Stdout = strings.ToValidUTF8(res.Stdout, "\uFFFD")
	res.Stderr = strings.ToValidUTF8(res.Stderr, "\uFFFD")
	if waitErr != nil {
		var why string
		var exitErr *ssh.ExitError
		var missing *ssh.ExitMissingError
		switch {
		case errors.As(waitErr, &exitErr) && exitErr.Signal() != "":
			why = "killed by signal " + exitErr.Signal()
		case errors.As(waitErr, &exitErr):
			why = fmt.Sprintf("exit status %d", exitErr.ExitStatus())
		case errors.As(waitErr, &missing):
			why = "the connection ended without an exit status"
		default:
			why = waitErr.Error()
		}
		msg := fmt.Sprintf("%s: remote command on %s failed: %s", req.Op, addr, why)
		if tail := out.tailText(); tail != "" {
			msg += fmt.Sprintf("\nlast %d lines of %s:\n%s", out.tailLen(), describeLogging(req.Logging), tail)
		} else if req.Logging == logNone {
			msg += " (output not shown: logging is \"none\")"
		}
		return res, errors.New(msg)
	}
	return res, nil
}

func describeLogging(mode string) string {
	switch mode {
	case logStdout:
		return "stdout"
	case logStderr:
		return "stderr"
	}
	return "output"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// outputCollector keeps stdout and stderr, splits them into lines for the
// progress display and keeps the last lines for an error message, showing
// only the streams the logging mode allows.
type outputCollector struct {
	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	partial        map[string]*bytes.Buffer
	tail           []string
	logging        string
	progress       func(string)
}

func newOutputCollector(logging string, progress func(string)) *outputCollector {
	return &outputCollector{
		logging:  logging,
		progress: progress,
		partial:  map[string]*bytes.Buffer{logStdout: {}, logStderr: {}},
	}
}

func (o *outputCollector) shows(stream string) bool {
	switch o.logging {
	case logNone:
		return false
	case logStdout, logStderr:
		return o.logging == stream
	}
	return true
}

type streamWriter struct {
	o      *outputCollector
	stream string
}

func (o *outputCollector) writer(stream string) *streamWriter { return &streamWriter{o, stream} }

func (w *streamWriter) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if w.stream == logStdout {
		o.stdout.Write(p)
	} else {
		o.stderr.Write(p)
	}
	if !o.shows(w.stream) {
		return len(p), nil
	}
	buf := o.partial[w.stream]
	buf.Write(p)
	for {
		i := bytes.IndexByte(buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(buf.Next(i + 1))
		o.line(strings.TrimRight(line, "\r\n"))
	}
	return len(p), nil
}

// line records one complete line; called with o.mu held.
func (o *outputCollector) line(s string) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	o.tail = append(o.tail, s)
	if len(o.tail) > errorTailLines {
		o.tail = o.tail[len(o.tail)-errorTailLines:]
	}
	if o.progress != nil && strings.TrimSpace(s) != "" {
		o.progress(truncate(s, progressLineMax))
	}
}

// flush emits unterminated last lines.
func (o *outputCollector) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, stream := range []string{logStdout, logStderr} {
		if buf := o.partial[stream]; buf.Len() > 0 {
			o.line(strings.TrimRight(buf.String(), "\r"))
			buf.Reset()
		}
	}
}

func (o *outputCollector) tailText() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.tail, "\n")
}

func (o *outputCollector) tailLen() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.tail)
}
