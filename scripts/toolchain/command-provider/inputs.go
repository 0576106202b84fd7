package main

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// Property names, as the @pulumi/command 1.2.1 SDK sends them.
const (
	propConnection             = "connection"
	propCreate                 = "create"
	propUpdate                 = "update"
	propDelete                 = "delete"
	propStdin                  = "stdin"
	propTriggers               = "triggers"
	propEnvironment            = "environment"
	propLogging                = "logging"
	propAddPreviousOutputInEnv = "addPreviousOutputInEnv"
	propStdout                 = "stdout"
	propStderr                 = "stderr"
)

// Logging modes (the SDK's remote.Logging enum).
const (
	logStdout          = "stdout"
	logStderr          = "stderr"
	logStdoutAndStderr = "stdoutAndStderr"
	logNone            = "none"
)

// Connection defaults, the same the SDK applies (connectionArgsProvideDefaults).
const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

var inputProps = map[string]bool{
	propConnection: true, propCreate: true, propUpdate: true, propDelete: true, propStdin: true,
	propTriggers: true, propEnvironment: true, propLogging: true, propAddPreviousOutputInEnv: true,
}

var connectionProps = map[string]bool{
	"host": true, "port": true, "user": true, "privateKey": true, "privateKeyPassword": true,
	"password": true, "hostKey": true, "dialErrorLimit": true, "perDialTimeout": true,
	"agentSocketPath": true, "proxy": true,
}

// connSpec is a validated connection.
type connSpec struct {
	Host               string
	Port               int
	User               string
	PrivateKey         string
	PrivateKeyPassword string
	Password           string
	HostKey            string
	AgentSocketPath    string
	DialErrorLimit     int // attempts; -1: unlimited
	PerDialTimeout     int // seconds; 0: no limit
}

// commandSpec is a validated set of command:remote:Command inputs.
type commandSpec struct {
	Conn                   connSpec
	Create, Update, Delete *string
	Stdin                  *string
	Environment            map[string]string
	Logging                string
	AddPreviousOutputInEnv bool
}

// envNames returns the environment's names in a stable order.
func (s *commandSpec) envNames() []string {
	names := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// checkFailure is one validation problem; Field is a property path.
type checkFailure struct {
	Field  string
	Reason string
}

func (f checkFailure) String() string { return f.Field + ": " + f.Reason }

// failuresError joins failures into one error message.
func failuresError(fs []checkFailure) error {
	msgs := make([]string, len(fs))
	for i, f := range fs {
		msgs[i] = f.String()
	}
	return fmt.Errorf("invalid inputs: %s", strings.Join(msgs, "; "))
}

// unwrap strips secret and output wrappers; the engine strips secrets before
// they reach us (we do not accept secrets) but be tolerant anyway.
func unwrap(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput() && v.OutputValue().Known:
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

func isUnknown(v resource.PropertyValue) bool {
	v = unwrap(v)
	return v.IsComputed() || (v.IsOutput() && !v.OutputValue().Known)
}

func isAbsent(v resource.PropertyValue) bool {
	return unwrap(v).IsNull()
}

// checkInputs validates news and returns them with defaults applied. Unknown
// values (preview) pass unchecked. The returned failures name the field and,
// for values that cannot be secret, the value.
func checkInputs(news resource.PropertyMap) (resource.PropertyMap, []checkFailure) {
	out := news.Copy()
	var fs []checkFailure
	fail := func(field, format string, args ...any) {
		fs = append(fs, checkFailure{field, fmt.Sprintf(format, args...)})
	}

	keys := make([]string, 0, len(news))
	for k := range news {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "__") || k == propStdout || k == propStderr {
			continue
		}
		if !inputProps[k] {
			fail(k, "unknown property")
		}
	}

	// connection
	cv, ok := news[propConnection]
	switch {
	case !ok || isAbsent(cv):
		fail(propConnection, "required")
	case isUnknown(cv):
	case !unwrap(cv).IsObject():
		fail(propConnection, "must be an object, got %s", unwrap(cv).TypeString())
	default:
		conn, cfs := checkConnection(unwrap(cv).ObjectValue())
		fs = append(fs, cfs...)
		if cv.IsSecret() {
			out[propConnection] = resource.MakeSecret(resource.NewProperty(conn))
		} else {
			out[propConnection] = resource.NewProperty(conn)
		}
	}

	for _, k := range []string{propCreate, propUpdate, propDelete, propStdin} {
		if v, ok := news[resource.PropertyKey(k)]; ok && !isAbsent(v) && !isUnknown(v) && !unwrap(v).IsString() {
			fail(k, "must be a string, got %s", unwrap(v).TypeString())
		}
	}

	if v, ok := news[propEnvironment]; ok && !isAbsent(v) && !isUnknown(v) {
		if !unwrap(v).IsObject() {
			fail(propEnvironment, "must be a map of strings, got %s", unwrap(v).TypeString())
		} else {
			env := unwrap(v).ObjectValue()
			for _, name := range env.StableKeys() {
				ev := env[name]
				field := propEnvironment + "." + string(name)
				if !validEnvName(string(name)) {
					fail(field, "not a valid environment variable name")
				}
				if !isAbsent(ev) && !isUnknown(ev) && !unwrap(ev).IsString() {
					fail(field, "must be a string, got %s", unwrap(ev).TypeString())
				}
			}
		}
	}

	if v, ok := news[propLogging]; ok && !isAbsent(v) && !isUnknown(v) {
		switch {
		case !unwrap(v).IsString():
			fail(propLogging, "must be a string, got %s", unwrap(v).TypeString())
		default:
			switch s := unwrap(v).StringValue(); s {
			case logStdout, logStderr, logStdoutAndStderr, logNone:
			default:
				fail(propLogging, "must be one of stdout, stderr, stdoutAndStderr, none; got %q", s)
			}
		}
	}

	if v, ok := news[propAddPreviousOutputInEnv]; ok && !isAbsent(v) && !isUnknown(v) && !unwrap(v).IsBool() {
		fail(propAddPreviousOutputInEnv, "must be a boolean, got %s", unwrap(v).TypeString())
	}

	if v, ok := news[propTriggers]; ok && !isAbsent(v) && !isUnknown(v) && !unwrap(v).IsArray() {
		fail(propTriggers, "must be an array, got %s", unwrap(v).TypeString())
	}

	return out, fs
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r == '=' || r == 0 {
			return false
		}
	}
	return true
}

// checkConnection validates a connection object and applies defaults. Values of
// credentials are never put into messages.
func checkConnection(c resource.PropertyMap) (resource.PropertyMap, []checkFailure) {
	out := c.Copy()
	var fs []checkFailure
	fail := func(field, format string, args ...any) {
		fs = append(fs, checkFailure{"connection." + field, fmt.Sprintf(format, args...)})
	}
	known := func(k string) (resource.PropertyValue, bool) {
		v, ok := c[resource.PropertyKey(k)]
		if !ok || isAbsent(v) || isUnknown(v) {
			return resource.PropertyValue{}, false
		}
		return unwrap(v), true
	}
	present := func(k string) bool {
		v, ok := c[resource.PropertyKey(k)]
		return ok && !isAbsent(v)
	}

	for _, k := range c.StableKeys() {
		if !connectionProps[string(k)] && !strings.HasPrefix(string(k), "__") {
			fail(string(k), "unknown property")
		}
	}

	// Defaults first, as the SDK does, so state looks the same from any SDK.
	setDefault := func(k string, v resource.PropertyValue) {
		if !present(k) {
			out[resource.PropertyKey(k)] = v
		}
	}
	setDefault("port", resource.NewProperty(float64(defaultPort)))
	setDefault("user", resource.NewProperty(defaultUser))
	setDefault("dialErrorLimit", resource.NewProperty(float64(defaultDialErrorLimit)))
	setDefault("perDialTimeout", resource.NewProperty(float64(defaultPerDialTimeout)))

	if !present("host") {
		fail("host", "required")
	} else if v, ok := known("host"); ok {
		if !v.IsString() || strings.TrimSpace(v.StringValue()) == "" {
			fail("host", "must be a non-empty string")
		}
	}

	for _, k := range []string{"user", "privateKey", "privateKeyPassword", "password", "hostKey", "agentSocketPath"} {
		if v, ok := known(k); ok && !v.IsString() {
			fail(k, "must be a string, got %s", v.TypeString())
		}
	}
	if v, ok := known("user"); ok && v.IsString() && v.StringValue() == "" {
		fail("user", "must not be empty")
	}

	intField := func(k string, lo, hi int, what string) {
		v, ok := known(k)
		if !ok {
			return
		}
		if !v.IsNumber() || v.NumberValue() != math.Trunc(v.NumberValue()) ||
			v.NumberValue() < float64(lo) || v.NumberValue() > float64(hi) {
			fail(k, "must be %s, got %v", what, v.V)
		}
	}
	intField("port", 1, 65535, "an integer from 1 to 65535")
	intField("dialErrorLimit", -1, math.MaxInt32, "an integer >= 0 (-1: unlimited)")
	intField("perDialTimeout", 0, math.MaxInt32, "a whole number of seconds >= 0 (0: no limit)")

	if v, ok := known("hostKey"); ok && v.IsString() {
		if _, err := parseHostKey(v.StringValue()); err != nil {
			fail("hostKey", "%v", err)
		}
	}
	if v, ok := known("privateKey"); ok && v.IsString() {
		var pass string
		if p, ok := known("privateKeyPassword"); ok && p.IsString() {
			pass = p.StringValue()
		}
		_, passKnown := known("privateKeyPassword")
		if passKnown || !present("privateKeyPassword") {
			if _, err := parsePrivateKey(v.StringValue(), pass); err != nil {
				fail("privateKey", "%v", err)
			}
		}
	}
	if present("proxy") {
		fail("proxy", "bastion/proxy connections are not supported by DebVisor's pulumi-resource-command; "+
			"reach the host directly")
	}
	return out, fs
}

// parseHostKey parses a pinned host key in authorized_keys format
// ("ssh-ed25519 AAAA... comment").
func parseHostKey(line string) (ssh.PublicKey, error) {
	key, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(line)))
	if err != nil {
		return nil, fmt.Errorf(`not an SSH public key line (want e.g. "ssh-ed25519 AAAA... comment"): %v`, err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, fmt.Errorf("must hold exactly one key")
	}
	return key, nil
}

// parsePrivateKey parses a PEM/OpenSSH private key; errors never include the key.
func parsePrivateKey(key, passphrase string) (ssh.Signer, error) {
	var (
		s   ssh.Signer
		err error
	)
	if passphrase != "" {
		s, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(passphrase))
	} else {
		s, err = ssh.ParsePrivateKey([]byte(key))
	}
	if err != nil {
		if _, missing := err.(*ssh.PassphraseMissingError); missing {
			return nil, fmt.Errorf("the key is encrypted: set connection.privateKeyPassword")
		}
		return nil, fmt.Errorf("cannot parse the private key: %v", err)
	}
	return s, nil
}

// specFromProps reads validated, fully known inputs (or state) into a spec.
func specFromProps(props resource.PropertyMap) (*commandSpec, error) {
	if _, fs := checkInputs(props); len(fs) > 0 {
		return nil, failuresError(fs)
	}
	str := func(m resource.PropertyMap, k string) (string, bool) {
		v, ok := m[resource.PropertyKey(k)]
		if !ok || isAbsent(v) {
			return "", false
		}
		v = unwrap(v)
		if !v.IsString() {
			return "", false
		}
		return v.StringValue(), true
	}
	optStr := func(m resource.PropertyMap, k string) *string {
		if s, ok := str(m, k); ok {
			return &s
		}
		return nil
	}
	num := func(m resource.PropertyMap, k string, def int) int {
		v, ok := m[resource.PropertyKey(k)]
		if !ok || isAbsent(v) || !unwrap(v).IsNumber() {
			return def
		}
		return int(unwrap(v).NumberValue())
	}

	cv := unwrap(props[propConnection])
	if isUnknown(cv) {
		return nil, fmt.Errorf("connection: not known yet")
	}
	c := cv.ObjectValue()
	spec := &commandSpec{
		Conn: connSpec{
			Port:           num(c, "port", defaultPort),
			User:           defaultUser,
			DialErrorLimit: num(c, "dialErrorLimit", defaultDialErrorLimit),
			PerDialTimeout: num(c, "perDialTimeout", defaultPerDialTimeout),
		},
		Create:                 optStr(props, propCreate),
		Update:                 optStr(props, propUpdate),
		Delete:                 optStr(props, propDelete),
		Stdin:                  optStr(props, propStdin),
		Logging:                logStdoutAndStderr,
		AddPreviousOutputInEnv: true,
	}
	spec.Conn.Host, _ = str(c, "host")
	if u, ok := str(c, "user"); ok {
		spec.Conn.User = u
	}
	spec.Conn.PrivateKey, _ = str(c, "privateKey")
	spec.Conn.PrivateKeyPassword, _ = str(c, "privateKeyPassword")
	spec.Conn.Password, _ = str(c, "password")
	spec.Conn.HostKey, _ = str(c, "hostKey")
	spec.Conn.AgentSocketPath, _ = str(c, "agentSocketPath")
	if l, ok := str(props, propLogging); ok {
		spec.Logging = l
	}
	if v, ok := props[propAddPreviousOutputInEnv]; ok && unwrap(v).IsBool() {
		spec.AddPreviousOutputInEnv = unwrap(v).BoolValue()
	}
	if v, ok := props[propEnvironment]; ok && unwrap(v).IsObject() {
		spec.Environment = map[string]string{}
		for k, ev := range unwrap(v).ObjectValue() {
			if unwrap(ev).IsString() {
				spec.Environment[string(k)] = unwrap(ev).StringValue()
			}
		}
	}
	return spec, nil
}
