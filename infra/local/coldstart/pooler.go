package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pooler is a PgBouncer in session mode between the functions and Postgres (-pooler): what RDS Proxy is to
// a Lambda in AWS. A function's new connection is then a client connection to the pooler, which hands it
// a server session already open (no backend started, its catalog caches already loaded by earlier
// clients) and resets it (DISCARD ALL) when the client goes.
type pooler struct {
	cmd  *exec.Cmd
	dir  string
	addr string
}

// startPooler starts PgBouncer for the Postgres server of the URLs, in a directory of its own, on a free
// local port, and opens a session for each URL's user through it, so the pool holds warm sessions before
// the first cold start. It fails with how to install PgBouncer when it is missing.
func startPooler(ctx context.Context, urls []string) (*pooler, error) {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr != nil {
			return nil, errors.New("-pooler needs PgBouncer: install it (Debian: apt-get install pgbouncer) or run without POOLER")
		}
		bin = "/usr/sbin/pgbouncer"
	}
	if len(urls) == 0 {
		return nil, errors.New("pooler: no database URL")
	}
	first, err := url.Parse(urls[0])
	if err != nil {
		return nil, fmt.Errorf("pooler: %w", err)
	}
	users := map[string]bool{}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("pooler: %w", err)
		}
		users[u.User.Username()] = true
	}
	dir, err := os.MkdirTemp("", "corral-pgbouncer-")
	if err != nil {
		return nil, err
	}
	// PgBouncer refuses to run as root: as root it is started as the postgres user, who must read its files
	// and write its log in dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	var userlist strings.Builder
	for u := range users {
		fmt.Fprintf(&userlist, "%q \"\"\n", u)
	}
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = session
server_reset_query = DISCARD ALL
max_client_conn = 500
default_pool_size = 20
logfile = %s
pidfile = %s
`, first.Hostname(), first.Port(), port, filepath.Join(dir, "userlist.txt"), filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	for name, body := range map[string]string{"userlist.txt": userlist.String(), "pgbouncer.ini": ini} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.New("pooler: PgBouncer will not run as root, and there is no postgres user to run it as")
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil { // its log and pid files
			return nil, err
		}
		args = append([]string{"-u", "postgres"}, args...)
	}
	p := &pooler{cmd: exec.Command(bin, args...), dir: dir, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pooler: %w", err)
	}
	// Warm sessions: the first client of each user through the pooler starts its server session.
	deadline := time.Now().Add(10 * time.Second)
	for _, raw := range urls {
		for {
			err := ping(ctx, p.route(raw))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				p.stop()
				log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
				return nil, fmt.Errorf("pooler: not answering on %s: %w\n%s", p.addr, err, log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return p, nil
}

// route returns raw with its host and port replaced by the pooler's.
func (p *pooler) route(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Host = p.addr
	return u.String()
}

func (p *pooler) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	_ = os.RemoveAll(p.dir)
}

func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, "SELECT 1")
	return err
}
