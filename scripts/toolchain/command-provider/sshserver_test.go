package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testServer is an in-process SSH server on 127.0.0.1 that runs exec requests
// with `sh -c` and records what it ran.
type testServer struct {
	t         *testing.T
	addr      string
	host      string
	port      int
	hostKeys  []ssh.Signer
	clientKey string // PEM private key the server accepts
	acceptEnv bool   // accept "env" requests (sshd: AcceptEnv)

	mu       sync.Mutex
	execs    []string
	conns    int
	envs     []map[string]string
	lastFrom string
}

func newSigner(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return s, pem.EncodeToMemory(block)
}

func newECDSASigner(t *testing.T) ssh.Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authorizedLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " test@host"
}

// startServer starts a server presenting hostKeys (one ed25519 key if none).
func startServer(t *testing.T, hostKeys ...ssh.Signer) *testServer {
	t.Helper()
	clientSigner, clientPEM := newSigner(t)
	if len(hostKeys) == 0 {
		hk, _ := newSigner(t)
		hostKeys = []ssh.Signer{hk}
	}
	s := &testServer{t: t, hostKeys: hostKeys, clientKey: string(clientPEM), acceptEnv: true}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(clientSigner.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	for _, hk := range hostKeys {
		cfg.AddHostKey(hk)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	s.addr = l.Addr().String()
	s.host = "127.0.0.1"
	s.port = l.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			go s.serveConn(c, cfg)
		}
	}()
	return s
}

func (s *testServer) serveConn(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		_ = c.Close()
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.serveSession(ch, creqs)
	}
}

func sshString(b []byte) (string, []byte) {
	if len(b) < 4 {
		return "", nil
	}
	n := binary.BigEndian.Uint32(b)
	if int(n) > len(b)-4 {
		return "", nil
	}
	return string(b[4 : 4+n]), b[4+n:]
}

func (s *testServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	env := map[string]string{}
	var cmd *exec.Cmd
	var cmdMu sync.Mutex
	for req := range reqs {
		switch req.Type {
		case "env":
			name, rest := sshString(req.Payload)
			value, _ := sshString(rest)
			if s.acceptEnv {
				env[name] = value
			}
			_ = req.Reply(s.acceptEnv, nil)
		case "signal":
			cmdMu.Lock()
			if cmd != nil && cmd.Process != nil {
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
			cmdMu.Unlock()
		case "exec":
			command, _ := sshString(req.Payload)
			s.mu.Lock()
			s.execs = append(s.execs, command)
			s.envs = append(s.envs, env)
			s.mu.Unlock()
			_ = req.Reply(true, nil)
			c := exec.Command("sh", "-c", command)
			c.Env = os.Environ()
			for k, v := range env {
				c.Env = append(c.Env, k+"="+v)
			}
			stdin, _ := c.StdinPipe()
			c.Stdout = ch
			c.Stderr = ch.Stderr()
			cmdMu.Lock()
			cmd = c
			err := c.Start()
			cmdMu.Unlock()
			if err != nil {
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ C uint32 }{127}))
				return
			}
			go func() {
				_, _ = io.Copy(stdin, ch)
				_ = stdin.Close()
			}()
			go func() {
				code := 0
				if err := c.Wait(); err != nil {
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						code = ee.ExitCode()
						if code < 0 {
							code = 143
						}
					}
				}
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ C uint32 }{uint32(code)}))
				_ = ch.Close()
			}()
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
}

func (s *testServer) ran() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.execs...)
}

func (s *testServer) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *testServer) lastEnv() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.envs) == 0 {
		return nil
	}
	return s.envs[len(s.envs)-1]
}

// conn is a connSpec for this server pinned to its first host key.
func (s *testServer) conn() connSpec {
	return connSpec{
		Host: s.host, Port: s.port, User: "root", PrivateKey: s.clientKey,
		HostKey:        authorizedLine(s.hostKeys[0].PublicKey()),
		DialErrorLimit: 3, PerDialTimeout: 5,
	}
}
