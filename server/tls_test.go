package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/server"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "persist test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSAndH2 serves TLS from a certificate and key, negotiates HTTP/2,
// speaks h2c on cleartext, and logs each request with its id.
func TestTLSAndH2(t *testing.T) {
	var logs bytes.Buffer
	// The line per request is at Debug.
	srv, err := server.New(mem.New(), server.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	defer srv.Shutdown(context.Background())
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln, certFile, keyFile) }()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	req, err := http.NewRequest("POST", "https://"+ln.Addr().String()+"/v1/op", strings.NewReader(`(persist/head {:stream "s"})`))
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "tls-1")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "HTTP/2.0", resp.Proto, "TLS negotiates HTTP/2")

	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln2, "", "") }()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	resp, err = h2c.Post("http://"+ln2.Addr().String()+"/v1/op", server.MediaSX, strings.NewReader(`(persist/now)`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "HTTP/2.0", resp.Proto, "h2c on cleartext")

	require.NoError(t, srv.Shutdown(context.Background()))
	assert.Contains(t, logs.String(), "id=tls-1")
	assert.Contains(t, logs.String(), "path=/v1/op")
}

// At the default Info level a request writes no log line; at Debug it
// writes one.
func TestRequestLineIsDebug(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		var logs bytes.Buffer
		srv, err := server.New(mem.New(), server.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level}))})
		require.NoError(t, err)
		hs := httptest.NewServer(srv)
		resp, err := http.Post(hs.URL+"/v1/op", server.MediaSX, strings.NewReader(`(persist/now)`))
		require.NoError(t, err)
		resp.Body.Close()
		hs.Close()
		require.NoError(t, srv.Shutdown(context.Background()))
		if level == slog.LevelInfo {
			assert.NotContains(t, logs.String(), "msg=request")
		} else {
			assert.Contains(t, logs.String(), "msg=request")
		}
	}
}
