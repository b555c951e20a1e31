using System.Text.Json.Nodes;
using RestoreOps.Kubernetes;
using Xunit;

namespace RestoreOps.Tests.Kubernetes;

public sealed class KubernetesConfigTests : IDisposable
{
    private readonly TempFolder _dir = new();
    private readonly ManualTime _time = new(DateTimeOffset.UtcNow);

    public void Dispose() => _dir.Dispose();

    private KubernetesConfig Load(string? kubeconfigEnv, string? context = null, string? path = null) =>
        KubernetesConfig.Load(path, context, name => name switch
        {
            "KUBECONFIG" => kubeconfigEnv,
            "HOME" => _dir.Path,
            _ => null,
        }, _time);

    [Fact]
    public void Merges_several_files_first_file_wins_per_name_and_for_current_context()
    {
        var first = _dir.File("a/config", """
            current-context: staging
            clusters:
            - name: shared
              cluster: { server: "https://first.example:6443", insecure-skip-tls-verify: true }
            users:
            - name: alice
              user: { token: first-token }
            contexts:
            - name: staging
              context: { cluster: shared, user: alice, namespace: drills }
            """);
        var second = _dir.File("b/config", """
            current-context: prod
            clusters:
            - name: shared
              cluster: { server: "https://second.example:6443" }
            - name: prod-cluster
              cluster: { server: "https://prod.example", insecure-skip-tls-verify: true }
            users:
            - name: alice
              user: { token: second-token }
            - name: bob
              user: { token: bob-token }
            contexts:
            - name: prod
              context: { cluster: prod-cluster, user: bob }
            """);
        var missing = Path.Combine(_dir.Path, "does-not-exist");

        var current = Load($"{first}:{missing}:{second}");
        Assert.Equal("staging", current.Context.ContextName);
        Assert.Equal(new Uri("https://first.example:6443"), current.Context.Server);
        Assert.Equal("drills", current.Context.Namespace);
        Assert.Equal("alice", current.Context.UserName);
        Assert.True(current.InsecureSkipTlsVerify);

        var named = Load($"{first}:{second}", context: "prod");
        Assert.Equal(new Uri("https://prod.example"), named.Context.Server);
        Assert.Equal("default", named.Context.Namespace);
        Assert.Equal("bob", named.Context.UserName);
    }

    [Fact]
    public void Unknown_context_lists_the_ones_that_exist()
    {
        var file = _dir.File("config", """
            clusters: [ { name: c, cluster: { server: "https://k8s" } } ]
            users: [ { name: u, user: { token: t } } ]
            contexts: [ { name: one, context: { cluster: c, user: u } }, { name: two, context: { cluster: c, user: u } } ]
            """);
        var e = Assert.Throws<ConfigurationException>(() => Load(null, "three", file));
        Assert.Contains("\"three\"", e.Message);
        Assert.Contains("\"one\", \"two\"", e.Message);

        var noCurrent = Assert.Throws<ConfigurationException>(() => Load(null, null, file));
        Assert.Contains("no current-context", noCurrent.Message);
        Assert.Contains("kubectl config use-context", noCurrent.Message);
    }

    [Fact]
    public void No_kubeconfig_anywhere_says_how_to_provide_one()
    {
        var e = Assert.Throws<ConfigurationException>(() => Load(null));
        Assert.Contains(".kube", e.Message);
        Assert.Contains("KUBECONFIG", e.Message);
    }

    [Fact]
    public async Task Token_and_token_file_reach_the_server_and_the_file_is_reread_when_it_changes()
    {
        await using var server = new FakeKubernetesServer();
        var tokenFile = _dir.File("secrets/token", "file-token-1\n");
        var file = _dir.File("config", $$"""
            current-context: with-token
            clusters: [ { name: c, cluster: { server: "{{server.Url}}" } } ]
            users:
            - name: static
              user: { token: static-token }
            - name: from-file
              user: { tokenFile: secrets/token }
            contexts:
            - { name: with-token, context: { cluster: c, user: static } }
            - { name: with-file, context: { cluster: c, user: from-file } }
            """);

        using (var api = new KubernetesClient(Load(null, null, file)))
            await api.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None);
        Assert.Equal("Bearer static-token", server.Requests.Last().Authorization);

        // tokenFile is relative to the kubeconfig's folder, as kubectl resolves it.
        using var fileApi = new KubernetesClient(Load(null, "with-file", file));
        await fileApi.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None);
        Assert.Equal("Bearer file-token-1", server.Requests.Last().Authorization);

        File.WriteAllText(tokenFile, "file-token-2-rotated\n");
        await fileApi.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None);
        Assert.Equal("Bearer file-token-2-rotated", server.Requests.Last().Authorization);

        // Same size, same timestamp: only the periodic re-read can notice, after a minute.
        var stamp = File.GetLastWriteTimeUtc(tokenFile);
        File.WriteAllText(tokenFile, "file-token-3-rotated\n");
        File.SetLastWriteTimeUtc(tokenFile, stamp);
        await fileApi.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None);
        Assert.Equal("Bearer file-token-2-rotated", server.Requests.Last().Authorization);
        _time.Now += KubernetesConfig.TokenFileMaxAge;
        await fileApi.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None);
        Assert.Equal("Bearer file-token-3-rotated", server.Requests.Last().Authorization);
    }

    [Fact]
    public void Client_certificate_and_CA_load_from_data_or_files_and_never_show_in_ToString()
    {
        var pki = new TestPki();
        _dir.File("pki/ca.crt", pki.CaPem);
        _dir.File("pki/client.crt", pki.ClientCertPem);
        _dir.File("pki/client.key", pki.ClientKeyPem);
        var file = _dir.File("config", $$"""
            current-context: files
            clusters:
            - name: by-file
              cluster: { server: "https://k8s.example", certificate-authority: pki/ca.crt }
            - name: by-data
              cluster: { server: "https://k8s.example", certificate-authority-data: {{TestPki.Base64(pki.CaPem)}} }
            users:
            - name: by-file
              user: { client-certificate: pki/client.crt, client-key: pki/client.key }
            - name: by-data
              user: { client-certificate-data: {{TestPki.Base64(pki.ClientCertPem)}}, client-key-data: {{TestPki.Base64(pki.ClientKeyPem)}} }
            contexts:
            - { name: files, context: { cluster: by-file, user: by-file } }
            - { name: data, context: { cluster: by-data, user: by-data } }
            """);

        foreach (var context in new[] { "files", "data" })
        {
            var config = Load(null, context, file);
            Assert.Equal(pki.Client.Thumbprint, config.ClientCertificate!.Thumbprint);
            Assert.True(config.ClientCertificate.HasPrivateKey);
            Assert.Equal(pki.Ca.Thumbprint, Assert.Single(config.CertificateAuthorities!).Thumbprint);
            Assert.DoesNotContain("PRIVATE", config.ToString());
        }
    }

    [Fact]
    public void Missing_certificate_file_names_the_key_and_the_path()
    {
        var file = _dir.File("config", """
            current-context: x
            clusters: [ { name: c, cluster: { server: "https://k8s", certificate-authority: missing/ca.crt } } ]
            users: [ { name: u, user: { token: t } } ]
            contexts: [ { name: x, context: { cluster: c, user: u } } ]
            """);
        var e = Assert.Throws<ConfigurationException>(() => Load(null, null, file));
        Assert.Contains("certificate-authority", e.Message);
        Assert.Contains(Path.Combine(_dir.Path, "missing", "ca.crt"), e.Message);
    }

    [Theory]
    [InlineData("client.authentication.k8s.io/v1")]
    [InlineData("client.authentication.k8s.io/v1beta1")]
    public async Task Exec_plugin_is_cached_until_its_expiry_and_run_again_after(string apiVersion)
    {
        await using var server = new FakeKubernetesServer();
        var counter = Path.Combine(_dir.Path, "count");
        var expiry = _time.Now.AddMinutes(10).ToString("yyyy-MM-ddTHH:mm:ssZ");
        var plugin = _dir.File("bin/fake-plugin", """
            #!/bin/sh
            n=$(( $(cat "$COUNT_FILE" 2>/dev/null || echo 0) + 1 ))
            echo $n > "$COUNT_FILE"
            printf '%s' "$KUBERNETES_EXEC_INFO" > "$COUNT_FILE.info"
            printf '{"kind":"ExecCredential","apiVersion":"API_VERSION","status":{"token":"%s-%s-%s","expirationTimestamp":"%s"}}' "$1" "$PLUGIN_VAR" "$n" "$EXPIRY"
            """.Replace("API_VERSION", apiVersion));
        File.SetUnixFileMode(plugin, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var file = _dir.File("config", $$"""
            current-context: x
            clusters: [ { name: c, cluster: { server: "{{server.Url}}" } } ]
            users:
            - name: u
              user:
                exec:
                  apiVersion: {{apiVersion}}
                  command: ./bin/fake-plugin
                  args: [ arg ]
                  env:
                  - { name: PLUGIN_VAR, value: env }
                  - { name: COUNT_FILE, value: "{{counter}}" }
                  - { name: EXPIRY, value: "{{expiry}}" }
                  interactiveMode: Never
            contexts: [ { name: x, context: { cluster: c, user: u } } ]
            """);

        using var api = new KubernetesClient(Load(null, null, file));
        await api.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None);
        await api.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None);
        Assert.Equal("1", File.ReadAllText(counter).Trim());
        Assert.All(server.Requests, r => Assert.Equal("Bearer arg-env-1", r.Authorization));
        var info = JsonNode.Parse(File.ReadAllText(counter + ".info"))!;
        Assert.Equal(apiVersion, (string?)info["apiVersion"]);
        Assert.Equal("ExecCredential", (string?)info["kind"]);
        Assert.False((bool)info["spec"]!["interactive"]!);

        _time.Now = _time.Now.AddMinutes(11);
        await api.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None);
        Assert.Equal("2", File.ReadAllText(counter).Trim());
        Assert.Equal("Bearer arg-env-2", server.Requests.Last().Authorization);
    }

    [Fact]
    public async Task A_401_makes_the_exec_plugin_run_again_before_giving_up()
    {
        await using var server = new FakeKubernetesServer { Authenticate = header => header?.EndsWith("-2", StringComparison.Ordinal) == true };
        var counter = Path.Combine(_dir.Path, "count");
        var plugin = _dir.File("plugin.sh", """
            n=$(( $(cat "$COUNT_FILE" 2>/dev/null || echo 0) + 1 ))
            echo $n > "$COUNT_FILE"
            printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"revoked-or-fresh-%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}' "$n"
            """);
        var file = _dir.File("config", $$"""
            current-context: x
            clusters: [ { name: c, cluster: { server: "{{server.Url}}" } } ]
            users:
            - name: u
              user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [ "{{plugin}}" ], env: [ { name: COUNT_FILE, value: "{{counter}}" } ], interactiveMode: Never } }
            contexts: [ { name: x, context: { cluster: c, user: u } } ]
            """);

        using var api = new KubernetesClient(Load(null, null, file));
        await api.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None);
        Assert.Equal("2", File.ReadAllText(counter).Trim());
        Assert.Equal(["Bearer revoked-or-fresh-1", "Bearer revoked-or-fresh-2"], server.Requests.Select(r => r.Authorization));
    }

    [Fact]
    public async Task Exec_plugin_that_is_missing_or_fails_says_what_to_do()
    {
        var file = _dir.File("config", """
            current-context: missing
            clusters: [ { name: c, cluster: { server: "http://127.0.0.1:1" } } ]
            users:
            - name: missing
              user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: restoreops-no-such-plugin, installHint: "brew install no-such-plugin", interactiveMode: Never } }
            - name: failing
              user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [ "-c", "echo 'login expired' >&2; exit 3" ], interactiveMode: Never } }
            contexts:
            - { name: missing, context: { cluster: c, user: missing } }
            - { name: failing, context: { cluster: c, user: failing } }
            """);

        using var missing = new KubernetesClient(Load(null, null, file));
        var notFound = await Assert.ThrowsAsync<ConfigurationException>(() => missing.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None));
        Assert.Contains("restoreops-no-such-plugin", notFound.Message);
        Assert.Contains("brew install no-such-plugin", notFound.Message);

        using var failing = new KubernetesClient(Load(null, "failing", file));
        var failed = await Assert.ThrowsAsync<InfrastructureException>(() => failing.ListAsync(ResourceKind.Pod, "default", null, null, CancellationToken.None));
        Assert.Contains("exited with code 3", failed.Message);
        Assert.Contains("login expired", failed.Message);
    }

    [Fact]
    public async Task In_cluster_reads_the_service_account_and_follows_token_rotation()
    {
        await using var server = new FakeKubernetesServer();
        var pki = new TestPki();
        var sa = Path.Combine(_dir.Path, "serviceaccount");
        // The kubelet's atomic writer: files live in a timestamped folder, "..data" points at the current one
        // and "token" points through "..data"; rotation swaps "..data" with a rename.
        WriteGeneration(sa, "..2026_11_21_1", Jwt("system:serviceaccount:ci:restoreops", "one"));
        File.CreateSymbolicLink(Path.Combine(sa, "..data"), "..2026_11_21_1");
        foreach (var name in new[] { "token", "ca.crt", "namespace" })
            File.CreateSymbolicLink(Path.Combine(sa, name), Path.Combine("..data", name));

        var config = KubernetesConfig.InCluster(sa, name => name switch
        {
            "KUBERNETES_SERVICE_HOST" => "10.96.0.1",
            "KUBERNETES_SERVICE_PORT" => "443",
            _ => null,
        }, _time);
        Assert.Equal(new Uri("https://10.96.0.1:443"), config.Context.Server);
        Assert.Equal("ci", config.Context.Namespace);
        Assert.Equal("system:serviceaccount:ci:restoreops", config.Context.UserName);
        Assert.Equal(pki.Ca.Thumbprint, Assert.Single(config.CertificateAuthorities!).Thumbprint);

        using var api = new KubernetesClient(config.WithServer(server.Url));
        await api.ListAsync(ResourceKind.Pod, null, null, null, CancellationToken.None);
        Assert.Equal("Bearer " + Jwt("system:serviceaccount:ci:restoreops", "one"), server.Requests.Last().Authorization);
        Assert.Equal("/api/v1/namespaces/ci/pods", server.Requests.Last().Path);

        WriteGeneration(sa, "..2026_11_21_2", Jwt("system:serviceaccount:ci:restoreops", "two"));
        File.CreateSymbolicLink(Path.Combine(sa, "..data_tmp"), "..2026_11_21_2");
        // rename(2) over the old link, as the kubelet does (File.Move follows the link and refuses a directory).
        using (var mv = System.Diagnostics.Process.Start("mv", ["-T", Path.Combine(sa, "..data_tmp"), Path.Combine(sa, "..data")]))
        {
            await mv.WaitForExitAsync();
            Assert.Equal(0, mv.ExitCode);
        }

        await api.ListAsync(ResourceKind.Pod, null, null, null, CancellationToken.None);
        Assert.Equal("Bearer " + Jwt("system:serviceaccount:ci:restoreops", "two"), server.Requests.Last().Authorization);

        void WriteGeneration(string root, string generation, string token)
        {
            Directory.CreateDirectory(Path.Combine(root, generation));
            File.WriteAllText(Path.Combine(root, generation, "token"), token);
            File.WriteAllText(Path.Combine(root, generation, "ca.crt"), pki.CaPem);
            File.WriteAllText(Path.Combine(root, generation, "namespace"), "ci");
        }
    }

    [Fact]
    public void In_cluster_outside_a_pod_says_to_use_a_kubeconfig()
    {
        var e = Assert.Throws<ConfigurationException>(() => KubernetesConfig.InCluster(_dir.Path, _ => null, _time));
        Assert.Contains("KUBERNETES_SERVICE_HOST", e.Message);
        Assert.Contains("KUBECONFIG", e.Message);
    }

    private static string Jwt(string subject, string nonce)
    {
        static string B64(string s) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(s)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return $"{B64("{\"alg\":\"RS256\"}")}.{B64($"{{\"sub\":\"{subject}\",\"nonce\":\"{nonce}\"}}")}.c2ln";
    }
}
