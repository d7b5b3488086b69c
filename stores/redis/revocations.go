package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oidcauth/oidcauth"
	goredis "github.com/redis/go-redis/v9"
)

// Options configure [NewRevocations]. Zero values get the defaults.
type Options struct {
	// Prefix starts every key and channel name. Default "oidcauth:".
	Prefix string
	// ResyncInterval is how often the local mirror reads what it may have
	// missed (a lost pub/sub message, an outage). It bounds how long a
	// revocation made on another instance can go unseen here while Redis
	// is reachable. Default 10 seconds.
	ResyncInterval time.Duration
	// Retention is how long revocations stay in Redis; at least the
	// longest session lifetime (Config.SessionMaxAge). Default 8 days.
	Retention time.Duration
	// MaxStaleness, when set, makes IsRevoked refuse every session once
	// the mirror has not synced with Redis for that long (fail closed:
	// everyone signs in again rather than a revoked session being served
	// during a long outage). Default 0: fail open, serving what the mirror
	// knows, which always includes what this instance revoked itself.
	MaxStaleness time.Duration
	// Logger receives sync failures. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for MaxStaleness. Default time.Now.
	Now func() time.Time
}

// Revocations is an oidcauth.Revocations shared through Redis. Every
// instance keeps a full mirror in memory (oidcauth.MemoryRevocations), so
// RequireAuth's check never touches the network. A revocation is written
// to the mirror at once, then to Redis, which publishes it to the other
// instances; a periodic resync catches up on anything missed.
//
// When Redis is unreachable: Revoke records locally and returns an error
// (sign-out still ends the session here; a back-channel logout answers
// 500 so the provider retries), and the next Sync that reaches Redis
// writes it there; FirstUse returns an error (fail closed: no unchecked
// logout token is accepted); IsRevoked answers from the mirror (fail
// open, or closed with MaxStaleness). When Redis comes back empty
// (restarted without persistence), the mirrors write their records back,
// so nothing revoked before the outage becomes valid again.
type Revocations struct {
	client goredis.UniversalClient
	opts   Options
	mirror *oidcauth.MemoryRevocations

	logKey, channel, epochKey string

	mu       sync.Mutex // serialises Sync
	epoch    string     // the epoch value last seen in Redis
	unsent   unsent     // revoked here while Redis could not be written
	cursor   int64      // Redis time (ms) from which the next Sync reads
	lastSync atomic.Int64
	stop     context.CancelFunc
	done     sync.WaitGroup
}

// NewRevocations loads every revocation from Redis into a local mirror and
// keeps it in sync until Close. It fails when Redis cannot be read, so an
// instance never starts without knowing what was revoked.
func NewRevocations(ctx context.Context, client goredis.UniversalClient, opts Options) (*Revocations, error) {
	if opts.Prefix == "" {
		opts.Prefix = "oidcauth:"
	}
	if opts.ResyncInterval <= 0 {
		opts.ResyncInterval = 10 * time.Second
	}
	if opts.Retention <= 0 {
		opts.Retention = 8 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Revocations{
		client:   client,
		opts:     opts,
		mirror:   oidcauth.NewMemoryRevocations(),
		logKey:   opts.Prefix + "revocations",
		channel:  opts.Prefix + "revocations:new",
		epochKey: opts.Prefix + "revocations:epoch",
	}
	// Subscribe before the first read, so nothing published in between is
	// lost.
	sub := client.Subscribe(ctx, r.channel)
	if _, err := sub.Receive(ctx); err != nil {
		_ = sub.Close()
		return nil, fmt.Errorf("oidcauth/redis: subscribing: %w", err)
	}
	if err := r.Sync(ctx); err != nil {
		_ = sub.Close()
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	r.stop = stop
	r.done.Add(2)
	go r.listen(bg, sub)
	go r.resync(bg)
	return r, nil
}

// Close stops syncing.
func (r *Revocations) Close() error {
	r.stop()
	r.done.Wait()
	return nil
}

// Mirror returns the local mirror, for inspection.
func (r *Revocations) Mirror() *oidcauth.MemoryRevocations { return r.mirror }

// record is a revocation as stored in the log and published: a kind
// letter, the cut-off and expiry in unix seconds, and the value last, as
// it may hold any character.
func record(rev oidcauth.Revocation) string {
	kind, value := "i", rev.SessionID
	switch {
	case rev.ProviderSID != "":
		kind, value = "s", rev.ProviderSID
	case rev.Subject != "":
		kind, value = "u", rev.Subject
	}
	return kind + "|" + strconv.FormatInt(rev.At.Unix(), 10) + "|" + strconv.FormatInt(rev.Until.Unix(), 10) + "|" + value
}

func parseRecord(s string) (oidcauth.Revocation, bool) {
	parts := strings.SplitN(s, "|", 4)
	if len(parts) != 4 || parts[3] == "" {
		return oidcauth.Revocation{}, false
	}
	at, err1 := strconv.ParseInt(parts[1], 10, 64)
	until, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return oidcauth.Revocation{}, false
	}
	rev := oidcauth.Revocation{At: time.Unix(at, 0), Until: time.Unix(until, 0)}
	switch parts[0] {
	case "i":
		rev.SessionID = parts[3]
	case "s":
		rev.ProviderSID = parts[3]
	case "u":
		rev.Subject = parts[3]
	default:
		return oidcauth.Revocation{}, false
	}
	return rev, true
}

// appendScript adds a record to the log, scored with Redis's own clock so
// that instances' clocks need not agree, and publishes it. The channel is
// an argument, not a key: the script's one key is the log, so it runs on
// Redis Cluster (where PUBLISH reaches every node).
var appendScript = goredis.NewScript(`
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], ms, ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return ms`)

// Revoke implements oidcauth.Revocations.
func (r *Revocations) Revoke(ctx context.Context, rev oidcauth.Revocation) error {
	if err := r.mirror.Revoke(ctx, rev); err != nil {
		return err
	}
	if err := appendScript.Run(ctx, r.client, []string{r.logKey}, record(rev), r.channel).Err(); err != nil {
		r.unsent.add(rev)
		return fmt.Errorf("oidcauth/redis: recording a revocation (held on this instance only until Redis is back): %w", err)
	}
	return nil
}

// unsent holds revocations Redis did not take, for the next Sync to
// write: Redis unreachable for a while (not restarted) keeps its epoch,
// so without this the other instances would never hear of them.
type unsent struct {
	mu   sync.Mutex
	revs []oidcauth.Revocation
}

// maxUnsent bounds the revocations kept for Redis during an outage; past
// it, the oldest go (they still hold on this instance).
const maxUnsent = 100_000

func (u *unsent) add(rev oidcauth.Revocation) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.revs) >= maxUnsent {
		u.revs = u.revs[1:]
	}
	u.revs = append(u.revs, rev)
}

// send writes the unsent revocations to Redis, keeping those it could not.
func (r *Revocations) sendUnsent(ctx context.Context) error {
	r.unsent.mu.Lock()
	revs := r.unsent.revs
	r.unsent.revs = nil
	r.unsent.mu.Unlock()
	for i, rev := range revs {
		if err := appendScript.Run(ctx, r.client, []string{r.logKey}, record(rev), r.channel).Err(); err != nil {
			r.unsent.mu.Lock()
			r.unsent.revs = append(revs[i:len(revs):len(revs)], r.unsent.revs...)
			r.unsent.mu.Unlock()
			return fmt.Errorf("oidcauth/redis: sync: %w", err)
		}
	}
	return nil
}

// holdsTimeout bounds Holds' read of Redis; past it Holds answers false
// and the caller writes the revocation again, which is always safe.
const holdsTimeout = 2 * time.Second

// Holds reports whether rev is recorded in Redis itself, the very record
// (kind, value, cut-off and Until) Revoke of rev would write, and in the
// local mirror: the back-channel handler then writes nothing for a
// replayed logout token (no ZADD, no PUBLISH). A revocation the mirror
// holds alone (Redis did not take it, or lost it in a restart and the next
// Sync has not written it back) is not reported, so the provider's retry
// of that logout writes it again. It costs one read of Redis (ZSCORE),
// only for a record the mirror already holds; any error answers false.
func (r *Revocations) Holds(rev oidcauth.Revocation) bool {
	if !r.mirror.Holds(rev) {
		return false // names none or several kinds, or was never recorded
	}
	ctx, cancel := context.WithTimeout(context.Background(), holdsTimeout)
	defer cancel()
	_, err := r.client.ZScore(ctx, r.logKey, record(rev)).Result()
	return err == nil
}

// IsRevoked implements oidcauth.Revocations from the local mirror.
func (r *Revocations) IsRevoked(sessionID, sid, subject string, signedIn time.Time) bool {
	if r.opts.MaxStaleness > 0 && r.opts.Now().UnixNano()-r.lastSync.Load() > int64(r.opts.MaxStaleness) {
		return true
	}
	return r.mirror.IsRevoked(sessionID, sid, subject, signedIn)
}

// FirstUse implements oidcauth.Revocations with SET NX, so a logout
// token is accepted once across all instances.
func (r *Revocations) FirstUse(ctx context.Context, jti string, until time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(jti))
	ok, err := r.client.SetArgs(ctx, r.opts.Prefix+"jti:"+hex.EncodeToString(sum[:]), "1", goredis.SetArgs{Mode: "NX", ExpireAt: until}).Result()
	if errors.Is(err, goredis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("oidcauth/redis: recording a logout token: %w", err)
	}
	return ok == "OK", nil
}

// Sync brings the mirror up to date with Redis now: it reads the records
// added since the last sync and drops those past Retention. When Redis has
// lost its data (its epoch key is gone or changed), it first writes the
// mirror's records back. The background loop calls it every
// ResyncInterval; tests and readiness checks may call it directly.
func (r *Revocations) Sync(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	epoch, err := r.client.Get(ctx, r.epochKey).Result()
	if errors.Is(err, goredis.Nil) {
		epoch = strconv.FormatInt(time.Now().UnixNano(), 36)
		if _, err := r.client.SetNX(ctx, r.epochKey, epoch, 0).Result(); err != nil {
			return fmt.Errorf("oidcauth/redis: sync: %w", err)
		}
		if epoch, err = r.client.Get(ctx, r.epochKey).Result(); err != nil {
			return fmt.Errorf("oidcauth/redis: sync: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("oidcauth/redis: sync: %w", err)
	}
	if r.epoch != "" && epoch != r.epoch {
		// Redis started over: give it back what this instance knows.
		if err := r.reseed(ctx); err != nil {
			return err
		}
		r.cursor = 0
	}
	r.epoch = epoch
	if err := r.sendUnsent(ctx); err != nil {
		return err
	}
	now, err := r.client.Time(ctx).Result()
	if err != nil {
		return fmt.Errorf("oidcauth/redis: sync: %w", err)
	}
	from := "-inf"
	if r.cursor > 0 {
		from = strconv.FormatInt(r.cursor, 10)
	}
	members, err := r.client.ZRangeByScore(ctx, r.logKey, &goredis.ZRangeBy{Min: from, Max: "+inf"}).Result()
	if err != nil {
		return fmt.Errorf("oidcauth/redis: sync: %w", err)
	}
	for _, m := range members {
		if rev, ok := parseRecord(m); ok {
			_ = r.mirror.Revoke(ctx, rev)
		}
	}
	// Read again from a little before now next time: a record added while
	// this read ran, with a score just below it, is then not missed.
	r.cursor = now.UnixMilli() - 2*r.opts.ResyncInterval.Milliseconds()
	cut := strconv.FormatInt(now.Add(-r.opts.Retention).UnixMilli(), 10)
	if err := r.client.ZRemRangeByScore(ctx, r.logKey, "-inf", cut).Err(); err != nil {
		return fmt.Errorf("oidcauth/redis: sync: %w", err)
	}
	r.lastSync.Store(r.opts.Now().UnixNano())
	return nil
}

func (r *Revocations) reseed(ctx context.Context) error {
	var err error
	r.mirror.Range(func(rev oidcauth.Revocation) bool {
		err = appendScript.Run(ctx, r.client, []string{r.logKey}, record(rev), r.channel).Err()
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("oidcauth/redis: restoring revocations: %w", err)
	}
	return nil
}

// listen applies records other instances publish.
func (r *Revocations) listen(ctx context.Context, sub *goredis.PubSub) {
	defer r.done.Done()
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if rev, ok := parseRecord(msg.Payload); ok {
				_ = r.mirror.Revoke(ctx, rev)
			}
		}
	}
}

func (r *Revocations) resync(ctx context.Context) {
	defer r.done.Done()
	t := time.NewTicker(r.opts.ResyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, r.opts.ResyncInterval)
			if err := r.Sync(sctx); err != nil && ctx.Err() == nil {
				r.opts.Logger.Warn("oidcauth/redis: revocation sync failed; serving what this instance knows", "error", err)
			}
			cancel()
		}
	}
}
