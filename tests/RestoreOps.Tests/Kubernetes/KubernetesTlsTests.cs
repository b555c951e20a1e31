using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using RestoreOps.Kubernetes;
using Xunit;

namespace RestoreOps.Tests.Kubernetes;

/// <summary>
/// TLS against a minimal HTTPS endpoint (TcpListener + SslStream; HttpListener cannot serve TLS on Linux):
/// the kubeconfig's CA is trusted on its own, the client certificate is presented, a wrong CA fails clearly.
/// </summary>
public sealed class KubernetesTlsTests : IAsyncLifetime
{
    private readonly TestPki _pki = new();
    private readonly TempFolder _dir = new();
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(60));
    private readonly List<string?> _clientSubjects = [];
    private Task _serve = Task.CompletedTask;

    public Task InitializeAsync()
    {
        _listener.Start();
        _serve = ServeAsync();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _serve; } catch (Exception) { }
        _dir.Dispose();
    }

    private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await using var ssl = new SslStream(client.GetStream());
                        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                        {
                            ServerCertificate = _pki.Server,
                            ClientCertificateRequired = true,
                            // The test checks below which certificate arrived; accepting here keeps failures readable.
                            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                            {
                                lock (_clientSubjects)
                                    _clientSubjects.Add(certificate?.Subject);
                                return true;
                            },
                        }, _stop.Token);
                        var request = new StringBuilder();
                        var buffer = new byte[4096];
                        while (!request.ToString().Contains("\r\n\r\n"))
                        {
                            var read = await ssl.ReadAsync(buffer, _stop.Token);
                            if (read == 0) return;
                            request.Append(Encoding.ASCII.GetString(buffer, 0, read));
                        }
                        var body = """{"kind":"Pod","apiVersion":"v1","metadata":{"name":"pg-1","namespace":"drills"}}""";
                        var response = $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
                        await ssl.WriteAsync(Encoding.ASCII.GetBytes(response), _stop.Token);
                    }
                    catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
                    {
                        // The client rejected us (wrong-CA test) or went away.
                    }
                }
            });
        }
    }

    private KubernetesConfig Config(string clusterSettings) =>
        KubernetesConfig.Load(_dir.File("config", $$"""
            current-context: tls
            clusters: [ { name: c, cluster: { server: "https://127.0.0.1:{{Port}}", {{clusterSettings}} } } ]
            users: [ { name: u, user: { client-certificate-data: {{TestPki.Base64(_pki.ClientCertPem)}}, client-key-data: {{TestPki.Base64(_pki.ClientKeyPem)}} } } ]
            contexts: [ { name: tls, context: { cluster: c, user: u } } ]
            """), null, _ => null, TimeProvider.System);

    [Fact]
    public async Task Trusts_the_kubeconfig_CA_and_presents_the_client_certificate()
    {
        using var api = new KubernetesClient(Config($"certificate-authority-data: {TestPki.Base64(_pki.CaPem)}"));
        var pod = await api.GetAsync(ResourceKind.Pod, "drills", "pg-1", _stop.Token);
        Assert.Equal("pg-1", (string?)pod["metadata"]!["name"]);
        lock (_clientSubjects)
            Assert.Equal("CN=restoreops-tester", Assert.Single(_clientSubjects));
    }

    [Fact]
    public async Task A_server_signed_by_another_CA_fails_with_a_TLS_message()
    {
        var other = new TestPki();
        using var api = new KubernetesClient(Config($"certificate-authority-data: {TestPki.Base64(other.CaPem)}"));
        var e = await Assert.ThrowsAsync<KubernetesUnavailableException>(() => api.GetAsync(ResourceKind.Pod, "drills", "pg-1", _stop.Token));
        Assert.Contains($"The TLS handshake with the Kubernetes API at https://127.0.0.1:{Port}/ failed", e.Message);
        Assert.Contains("certificate-authority", e.Message);
    }

    [Fact]
    public async Task Insecure_skip_tls_verify_accepts_any_server_certificate()
    {
        using var api = new KubernetesClient(Config("insecure-skip-tls-verify: true"));
        var pod = await api.GetAsync(ResourceKind.Pod, "drills", "pg-1", _stop.Token);
        Assert.Equal("Pod", (string?)pod["kind"]);
    }

    [Fact]
    public async Task Tls_server_name_is_what_the_certificate_must_match()
    {
        var ca = $"certificate-authority-data: {TestPki.Base64(_pki.CaPem)}";
        using var matching = new KubernetesClient(Config($"{ca}, tls-server-name: localhost"));
        Assert.Equal("Pod", (string?)(await matching.GetAsync(ResourceKind.Pod, "drills", "pg-1", _stop.Token))["kind"]);

        using var other = new KubernetesClient(Config($"{ca}, tls-server-name: api.other.example"));
        await Assert.ThrowsAsync<KubernetesUnavailableException>(() => other.GetAsync(ResourceKind.Pod, "drills", "pg-1", _stop.Token));
    }
}
