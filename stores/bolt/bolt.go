// Package bolt keeps oidcauth's state in one file on this machine, an
// embedded bbolt database, so that it outlives a restart with no server to
// run: revocations (sign-out, back-channel logout), the logout tokens
// already used, the outcomes of refreshes and, optionally, server-side
// session records. It suits an
// app that runs as one process on one machine; several instances share
// their state through Redis (the stores/redis module) instead. It is a
// module of its own, so that apps that do not use it do not depend on
// bbolt.
//
//	db, err := oidcbolt.Open(filepath.Join(stateDir, "oidcauth.db"), oidcbolt.Options{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer db.Close()
//	auth, err := oidcauth.New(oidcauth.Config{
//		// …
//		Revocations:        db.Revocations(),
//		RefreshCoordinator: db.Coordinator(),
//		Store:              oidcauth.NewServerStore(db.Sessions(), "myapp:session:"), // optional
//	})
//
// A bbolt file is open in one process at a time: a second process that
// opens it waits [Options.LockTimeout], then fails.
package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/oidcauth/oidcauth"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options configure [Open]. Zero values get the defaults.
type Options struct {
	// LockTimeout is how long Open waits for another process to close the
	// file. Default 1 second.
	LockTimeout time.Duration
	// SweepInterval is how often records past their expiry are deleted
	// from the file (they are ignored from the moment they expire).
	// Default 10 minutes.
	SweepInterval time.Duration
	// Logger receives sweep failures. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for expiry. Default time.Now.
	Now func() time.Time
}

// DB is oidcauth's state in a bbolt file. Its parts are safe for
// concurrent use.
type DB struct {
	db     *bbolt.DB
	opts   Options
	revs   *Revocations
	coord  *Coordinator
	stop   chan struct{}
	done   sync.WaitGroup
	closed sync.Once
}

var (
	bucketRevocations = []byte("revocations") // kind letter + value → at, until
	bucketJTIs        = []byte("jtis")        // jti → until
	bucketSessions    = []byte("sessions")    // key → expiry, value
	bucketRefresh     = []byte("refresh")     // key → fence, lease, outcome (coordinator.go)
	buckets           = [][]byte{bucketRevocations, bucketJTIs, bucketSessions, bucketRefresh}
)

// Open opens (or creates, mode 0600) the database at path, loads the
// revocations it holds into memory and deletes expired records. It fails
// when the file cannot be read, so an app never starts without knowing
// what was revoked.
func Open(path string, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("oidcauth/bolt: %s is open in another process", path)
		}
		return nil, fmt.Errorf("oidcauth/bolt: opening %s: %w", path, err)
	}
	d := &DB{db: db, opts: opts, stop: make(chan struct{})}
	d.coord = &Coordinator{d: d, changed: map[string]chan struct{}{}}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return endLeases(tx)
	})
	if err == nil {
		err = d.sweep()
	}
	if err == nil {
		d.revs, err = loadRevocations(d)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("oidcauth/bolt: reading %s: %w", path, err)
	}
	d.done.Add(1)
	go d.sweepEvery(opts.SweepInterval)
	return d, nil
}

// Close stops the sweeper and closes the file.
func (d *DB) Close() error {
	err := errors.New("oidcauth/bolt: already closed")
	d.closed.Do(func() {
		close(d.stop)
		d.done.Wait()
		err = d.db.Close()
	})
	return err
}

// Revocations returns the revocation list kept in the file, for [oidcauth.Config.Revocations].
func (d *DB) Revocations() *Revocations { return d.revs }

// Sessions returns a session backend, for [oidcauth.NewServerStore].
func (d *DB) Sessions() *Sessions { return &Sessions{d: d} }

// Coordinator returns the refresh coordinator, for
// [oidcauth.Config.RefreshCoordinator].
func (d *DB) Coordinator() *Coordinator { return d.coord }

func (d *DB) sweepEvery(interval time.Duration) {
	defer d.done.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			if err := d.sweep(); err != nil {
				d.opts.Logger.Error("oidcauth/bolt: deleting expired records", "err", err)
			}
		}
	}
}

// sweep deletes every record whose expiry has passed.
func (d *DB) sweep() error {
	now := d.opts.Now()
	return d.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range buckets {
			b := tx.Bucket(name)
			var expired [][]byte
			_ = b.ForEach(func(k, v []byte) error {
				if until, ok := expiry(name, v); !ok || !now.Before(until) {
					expired = append(expired, bytes.Clone(k))
				}
				return nil
			})
			for _, k := range expired {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// expiry decodes when a record of the named bucket expires; ok is false
// for a record that does not decode (deleted by the sweep).
func expiry(bucket, v []byte) (until time.Time, ok bool) {
	switch string(bucket) {
	case string(bucketRevocations):
		if len(v) != 16 {
			return time.Time{}, false
		}
		return decodeTime(v[8:]), true
	case string(bucketRefresh):
		return coordExpiry(v)
	default: // jtis: until; sessions: expiry, value
		if len(v) < 8 {
			return time.Time{}, false
		}
		return decodeTime(v[:8]), true
	}
}

func encodeTime(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
}

func decodeTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)))
}

var _ oidcauth.Revocations = (*Revocations)(nil)
var _ oidcauth.ServerBackend = (*Sessions)(nil)
var _ oidcauth.RefreshCoordinator = (*Coordinator)(nil)
