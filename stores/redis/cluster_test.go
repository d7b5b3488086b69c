package redis

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// cluster is a real Redis Cluster of three masters (no replicas) on free
// loopback ports, made from Debian's redis-server with cluster-enabled and
// redis-cli --cluster create, and stopped with the test.
type cluster struct {
	t     *testing.T
	nodes []*server
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatal("redis-cli is not installed: run scripts/redis-tests.sh, which installs it from Debian's packages")
	}
	dir := t.TempDir()
	c := &cluster{t: t}
	var addrs []string
	for range 3 {
		addr := freeAddr(t)
		_, bus, _ := net.SplitHostPort(freeAddr(t))
		_, port, _ := net.SplitHostPort(addr)
		s := &server{t: t, addr: addr, args: []string{
			"--cluster-enabled", "yes",
			"--cluster-port", bus,
			"--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"),
			"--cluster-node-timeout", "2000",
			"--dir", dir,
		}}
		s.start()
		t.Cleanup(s.stop)
		c.nodes = append(c.nodes, s)
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	out, err := exec.Command("redis-cli", append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node agrees the cluster is up and every slot is served.
	for _, s := range c.nodes {
		node := goredis.NewClient(&goredis.Options{Addr: s.addr})
		ok := false
		for i := 0; i < 500 && !ok; i++ {
			info, _ := node.ClusterInfo(context.Background()).Result()
			ok = strings.Contains(info, "cluster_state:ok")
			if !ok {
				time.Sleep(10 * time.Millisecond) // waiting for the nodes to gossip
			}
		}
		node.Close()
		if !ok {
			t.Fatalf("cluster node %s did not reach cluster_state:ok", s.addr)
		}
	}
	return c
}

func (c *cluster) client() *goredis.ClusterClient {
	var addrs []string
	for _, s := range c.nodes {
		addrs = append(addrs, s.addr)
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second})
	c.t.Cleanup(func() { cc.Close() })
	return cc
}

// backends runs f against a single node and against a cluster.
func backends(t *testing.T, f func(t *testing.T, c goredis.UniversalClient)) {
	t.Run("single", func(t *testing.T) { f(t, startRedis(t).client()) })
	t.Run("cluster", func(t *testing.T) { f(t, startCluster(t).client()) })
}
