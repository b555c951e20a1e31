using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Tests.Fixtures;
using YamlDotNet.RepresentationModel;

namespace RestoreOps.Tests.Kubernetes;

/// <summary>
/// A real Kubernetes API server (kube-apiserver + etcd) for tests: started on free 127.0.0.1 ports with a fresh CA,
/// serving certificate, admin client certificate (<c>O=system:masters</c>) and a tokens.csv of token users, the
/// CNPG CRDs the project ships applied and Established. No controller-manager, scheduler or kubelet run
/// (../shared/k8s/README.md): nothing reconciles, pods never run, port-forwards have no kubelet to reach.
/// </summary>
/// <remarks>
/// One instance per test run, shared by leases (<see cref="AcquireAsync"/>): the "real-api-server" collection holds
/// one, classes in other collections (the "backups" one) hold their own; the last release stops both processes
/// and deletes the folder. Binaries are found the envtest way (<see cref="Locate"/>).
/// </remarks>
internal sealed class RealApiServer
{
    /// <summary>The one line a skipped real-server test shows.</summary>
    public const string HowToGetBinaries =
        "no kube-apiserver/etcd found ($KUBEBUILDER_ASSETS, ../shared/k8s beside the repository, etcd on PATH): " +
        "get them with envtest (`go install sigs.k8s.io/controller-runtime/tools/setup-envtest@latest && export KUBEBUILDER_ASSETS=$(setup-envtest use 1.28 -p path)`)";

    /// <summary>Token users in tokens.csv (the API server reads it once, at start).</summary>
    private const int TokenUsers = 64;

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static RealApiServer? _shared;
    private static int _leases;

    private readonly string _dir;
    private readonly List<ServerProcess> _processes = [];
    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private int _nextUser;
    private string _caPem = "";

    private RealApiServer(string dir) => _dir = dir;

    /// <summary>API server URL, https://127.0.0.1:PORT.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>How long starting etcd + kube-apiserver + CRDs took this run.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>kubeconfig of a cluster-admin (client certificate, <c>O=system:masters</c>).</summary>
    public string AdminKubeconfig => Path.Combine(_dir, "admin.kubeconfig");

    /// <summary>The CA that signed the serving certificate, PEM.</summary>
    public string CaPem => _caPem;

    /// <summary>Where kube-apiserver and etcd are, or why they are not there.</summary>
    public static (string? ApiServer, string? Etcd, string? Missing) Locate()
    {
        var folders = new List<string>();
        if (Environment.GetEnvironmentVariable("KUBEBUILDER_ASSETS") is { Length: > 0 } assets) folders.Add(assets);
        // Beside the project, as on every machine of this project: the repository's parent's shared/k8s.
        try
        {
            if (Directory.GetParent(RepositoryPaths.Root) is { } parent) folders.Add(Path.Combine(parent.FullName, "shared", "k8s"));
        }
        catch (InvalidOperationException)
        {
        }
        var apiServer = folders.Select(f => Path.Combine(f, "kube-apiserver")).FirstOrDefault(File.Exists);
        var etcd = folders.Select(f => Path.Combine(f, "etcd")).FirstOrDefault(File.Exists) ?? OnPath("etcd");
        if (apiServer is null || etcd is null)
            return (apiServer, etcd, $"{(apiServer is null ? "kube-apiserver" : "etcd")} missing: {HowToGetBinaries}");
        return (apiServer, etcd, null);
    }

    /// <summary>True when real-server tests must fail rather than skip without binaries (CI).</summary>
    public static bool Required => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Takes a lease on the run's server, starting it if needed.</summary>
    public static async Task<RealApiServer> AcquireAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_shared is null)
            {
                var (apiServer, etcd, missing) = Locate();
                if (missing is not null)
                    throw new InvalidOperationException("The real Kubernetes API server tests cannot run: " + missing);
                SweepAbandoned();
                var dir = Path.Combine(Path.GetTempPath(), $"restoreops-apiserver-{Guid.NewGuid():N}"[..36]);
                var server = new RealApiServer(dir);
                try
                {
                    await server.StartAsync(apiServer!, etcd!);
                }
                catch
                {
                    await server.StopAsync();
                    throw;
                }
                _shared = server;
            }
            _leases++;
            return _shared;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Returns a lease; the last one stops etcd and kube-apiserver and deletes their folder.</summary>
    public static async Task ReleaseAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (--_leases > 0 || _shared is null) return;
            var server = _shared;
            _shared = null;
            await server.StopAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>A client as cluster-admin.</summary>
    public KubernetesClient Admin() => new(KubernetesConfig.Load(AdminKubeconfig, null));

    /// <summary>
    /// A token user nobody has bound anything to yet (real 403s for everything until a test binds Roles to it),
    /// with its own kubeconfig. Each call hands out another user.
    /// </summary>
    public TokenUser NewTokenUser(string ns = "default")
    {
        int index;
        lock (_tokens) index = _nextUser++;
        if (index >= TokenUsers)
            throw new InvalidOperationException($"All {TokenUsers} token users of tokens.csv are taken; raise RealApiServer.TokenUsers.");
        var name = $"user-{index}";
        var path = Path.Combine(_dir, $"{name}.kubeconfig");
        File.WriteAllText(path, Kubeconfig(name, $"    token: {_tokens[name]}\n", ns));
        return new TokenUser(name, path);
    }

    /// <summary>Creates a namespace (with the <c>default</c> ServiceAccount a controller-manager would add) if it is missing.</summary>
    public async Task EnsureNamespaceAsync(string ns, CancellationToken ct)
    {
        using var admin = Admin();
        try
        {
            await admin.CreateAsync(ResourceKind.Namespace, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } }, ct);
        }
        catch (KubernetesConflictException e) when (e.AlreadyExists)
        {
            return;
        }
        // Pods are refused in a namespace without its default ServiceAccount (ServiceAccount admission).
        await admin.CreateAsync(ServiceAccount, ns, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "default" } }, ct);
    }

    /// <summary>Core <c>ServiceAccount</c>.</summary>
    public static readonly ResourceKind ServiceAccount = new("", "v1", "serviceaccounts", "ServiceAccount");

    /// <summary>apiextensions.k8s.io/v1 <c>CustomResourceDefinition</c>.</summary>
    public static readonly ResourceKind Crd = new("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", Namespaced: false);

    private const string OwnerFile = "owner.pid";

    // A test host killed outside our control takes its servers with it (ServerProcess), but not their folder:
    // the next run removes folders whose owning process is gone.
    private static void SweepAbandoned()
    {
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), "restoreops-apiserver-*"))
        {
            try
            {
                if (!int.TryParse(File.ReadAllText(Path.Combine(dir, OwnerFile)), out var pid) || Alive(pid)) continue;
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        static bool Alive(int pid)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                return !process.HasExited;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }
    }

    private async Task StartAsync(string apiServerPath, string etcdPath)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(_dir);
        File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(_dir, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        WriteCertificates();
        var tokens = new StringBuilder();
        for (var i = 0; i < TokenUsers; i++)
        {
            var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
            _tokens[$"user-{i}"] = token;
            tokens.Append(System.Globalization.CultureInfo.InvariantCulture, $"{token},user-{i},uid-{i}\n");
        }
        File.WriteAllText(Path.Combine(_dir, "tokens.csv"), tokens.ToString());

        using var http = new HttpClient(new SocketsHttpHandler(), disposeHandler: true) { Timeout = TimeSpan.FromSeconds(5) };
        // Free ports can be taken between the probe and the bind: a failed start is retried on new ports.
        for (var attempt = 1; ; attempt++)
        {
            var (etcdClient, etcdPeer) = (FreePort(), FreePort());
            var etcd = ServerProcess.Start("etcd", etcdPath, Path.Combine(_dir, $"etcd-{attempt}.log"),
            [
                "--name", "t", "--data-dir", Path.Combine(_dir, $"etcd-data-{attempt}"),
                "--listen-client-urls", $"http://127.0.0.1:{etcdClient}", "--advertise-client-urls", $"http://127.0.0.1:{etcdClient}",
                "--listen-peer-urls", $"http://127.0.0.1:{etcdPeer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{etcdPeer}",
                "--initial-cluster", $"t=http://127.0.0.1:{etcdPeer}", "--initial-cluster-state", "new",
                "--unsafe-no-fsync", "--log-level", "warn",
            ]);
            _processes.Add(etcd);
            if (!await WaitAsync(etcd, async () =>
                (await http.GetStringAsync($"http://127.0.0.1:{etcdClient}/health")).Contains("\"true\"", StringComparison.Ordinal)))
            {
                if (attempt < 3) continue;
                throw new InvalidOperationException($"etcd did not become healthy: {etcd.Tail()}");
            }

            var port = FreePort();
            var apiServer = ServerProcess.Start("kube-apiserver", apiServerPath, Path.Combine(_dir, $"kube-apiserver-{attempt}.log"),
            [
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", $"--secure-port={port}",
                $"--etcd-servers=http://127.0.0.1:{etcdClient}",
                $"--tls-cert-file={Path.Combine(_dir, "apiserver.crt")}", $"--tls-private-key-file={Path.Combine(_dir, "apiserver.key")}",
                $"--client-ca-file={Path.Combine(_dir, "ca.crt")}", "--authorization-mode=RBAC",
                $"--token-auth-file={Path.Combine(_dir, "tokens.csv")}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                $"--service-account-key-file={Path.Combine(_dir, "sa.pub")}", $"--service-account-signing-key-file={Path.Combine(_dir, "sa.key")}",
                "--service-cluster-ip-range=10.96.0.0/12", "--profiling=false",
                $"--cert-dir={Path.Combine(_dir, "cert-dir")}",
            ]);
            _processes.Add(apiServer);
            Url = new Uri($"https://127.0.0.1:{port}");
            File.WriteAllText(AdminKubeconfig, Kubeconfig("admin",
                $"    client-certificate-data: {B64(File.ReadAllText(Path.Combine(_dir, "admin.crt")))}\n    client-key-data: {B64(File.ReadAllText(Path.Combine(_dir, "admin.key")))}\n", "default"));
            using var admin = Admin();
            var ready = await WaitAsync(apiServer, async () =>
            {
                using var probe = new HttpClient(new SocketsHttpHandler
                {
                    SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && ChainsToCa(new X509Certificate2(c)) },
                }) { Timeout = TimeSpan.FromSeconds(5) };
                return await probe.GetStringAsync(new Uri(Url, "/readyz")) == "ok";
            });
            if (!ready)
            {
                if (attempt < 3 && apiServer.HasExited) continue;
                throw new InvalidOperationException($"kube-apiserver did not become ready at {Url}: {apiServer.Tail()}");
            }
            break;
        }
        await ApplyCrdsAsync();
        StartupTime = clock.Elapsed;
    }

    private async Task ApplyCrdsAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var ct = timeout.Token;
        using var admin = Admin();
        var names = new List<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "src", "RestoreOps", "Cnpg", "Crds"), "*.yaml").Order(StringComparer.Ordinal))
        {
            var yaml = new YamlStream();
            yaml.Load(new StringReader(File.ReadAllText(file)));
            var crd = (JsonObject)CrdSchema.ToJson(yaml.Documents[0].RootNode)!;
            names.Add(crd["metadata"]!["name"]!.GetValue<string>());
            await admin.CreateAsync(Crd, null, crd, ct);
        }
        // Established = the server serves the new resource; list then watch so no transition is missed.
        var pending = names.ToHashSet(StringComparer.Ordinal);
        var list = await admin.ListAsync(Crd, null, null, null, ct);
        foreach (var item in list.Items) if (Established(item)) pending.Remove(item["metadata"]!["name"]!.GetValue<string>());
        if (pending.Count == 0) return;
        await foreach (var change in admin.WatchAsync(Crd, null, null, null, list.ResourceVersion, ct))
        {
            if (change.Name is { } name && Established(change.Object)) pending.Remove(name);
            if (pending.Count == 0) return;
        }
    }

    private static bool Established(JsonObject crd) =>
        (crd["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .Any(c => (string?)c["type"] == "Established" && (string?)c["status"] == "True");

    private async Task StopAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
            await process.StopAsync();
        _processes.Clear();
        try { Directory.Delete(_dir, recursive: true); } catch (DirectoryNotFoundException) { }
    }

    // Polls a readiness probe of a starting process: the process offers no event to wait on.
    private static async Task<bool> WaitAsync(ServerProcess process, Func<Task<bool>> probe)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (process.HasExited) return false;
            try
            {
                if (await probe()) return true;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
            }
            await Task.Delay(100);
        }
        return false;
    }

    private string Kubeconfig(string user, string credentials, string ns) =>
        $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: real
          cluster:
            server: {Url.AbsoluteUri.TrimEnd('/')}
            certificate-authority-data: {B64(_caPem)}
        users:
        - name: {user}
          user:
        {credentials}contexts:
        - name: real
          context:
            cluster: real
            user: {user}
            namespace: {ns}
        current-context: real

        """;

    private X509Certificate2 _ca = null!;

    private bool ChainsToCa(X509Certificate2 leaf)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    private void WriteCertificates()
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=restoreops-test-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        _ca = caRequest.CreateSelfSigned(now.AddHours(-1), now.AddDays(2));
        _caPem = _ca.ExportCertificatePem() + "\n";
        Write("ca.crt", _caPem);

        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        Issue("apiserver", "CN=kube-apiserver", new Oid("1.3.6.1.5.5.7.3.1"), san.Build());
        Issue("admin", "CN=admin, O=system:masters", new Oid("1.3.6.1.5.5.7.3.2"), null);

        using var sa = RSA.Create(2048);
        Write("sa.key", sa.ExportPkcs8PrivateKeyPem() + "\n");
        Write("sa.pub", sa.ExportSubjectPublicKeyInfoPem() + "\n");

        void Issue(string file, string subject, Oid usage, X509Extension? alternativeNames)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
            if (alternativeNames is not null) request.CertificateExtensions.Add(alternativeNames);
            using var cert = request.Create(_ca, now.AddHours(-1), now.AddDays(1), RandomNumberGenerator.GetBytes(16));
            Write(file + ".crt", cert.ExportCertificatePem() + "\n");
            Write(file + ".key", key.ExportPkcs8PrivateKeyPem() + "\n");
        }
    }

    private void Write(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static string? OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>
    /// etcd or kube-apiserver, started through <c>sh</c> that kills it when its stdin closes: on dispose, and also when
    /// the test host dies without disposing (the pipe closes with the process), so no server outlives the run.
    /// </summary>
    private sealed class ServerProcess
    {
        private readonly Process _shell;
        private readonly string _log;

        private ServerProcess(Process shell, string log)
        {
            _shell = shell;
            _log = log;
        }

        public bool HasExited => _shell.HasExited;

        public static ServerProcess Start(string name, string path, string log, IReadOnlyList<string> args)
        {
            var info = new ProcessStartInfo("/bin/sh")
            {
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add("-c");
            // The server runs in the background; `read` returns when the test host closes stdin (or dies).
            // fd 3 keeps the pipe: a background job's own stdin is /dev/null in a non-interactive shell.
            info.ArgumentList.Add("exec 3<&0 >/dev/null 2>&1; log=$1; shift; \"$@\" >\"$log\" 2>&1 </dev/null & child=$!; " +
                                  "( read _ignored <&3; kill $child 2>/dev/null ) & watcher=$!; exec 3<&-; " +
                                  "wait $child; status=$?; kill $watcher 2>/dev/null; exit $status");
            info.ArgumentList.Add(name);
            info.ArgumentList.Add(log);
            info.ArgumentList.Add(path);
            foreach (var a in args) info.ArgumentList.Add(a);
            return new ServerProcess(Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}"), log);
        }

        public string Tail()
        {
            try
            {
                var lines = File.ReadAllLines(_log);
                return string.Join("\n", lines.TakeLast(15));
            }
            catch (IOException e)
            {
                return $"(no log: {e.Message})";
            }
        }

        public async Task StopAsync()
        {
            try { _shell.StandardInput.Close(); } catch (IOException) { }
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _shell.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _shell.Kill(entireProcessTree: true);
                await _shell.WaitForExitAsync();
            }
            _shell.Dispose();
        }
    }
}

/// <summary>A token user of the real API server and its kubeconfig.</summary>
/// <param name="Name">The user name the API server sees (RBAC subject <c>kind: User</c>).</param>
/// <param name="Kubeconfig">Path of a kubeconfig with the user's token.</param>
internal sealed record TokenUser(string Name, string Kubeconfig)
{
    /// <summary>A client as this user.</summary>
    public KubernetesClient Client() => new(KubernetesConfig.Load(Kubeconfig, null));
}
