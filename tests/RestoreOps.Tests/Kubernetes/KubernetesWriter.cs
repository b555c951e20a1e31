using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RestoreOps.Kubernetes;

namespace RestoreOps.Tests.Kubernetes;

/// <summary>
/// What tests (and the operator simulator) need beyond <see cref="IKubernetesApi"/>, which only reads, creates and
/// deletes: replace an object or its <c>status</c> subresource, and send any request (server-side dry runs, reviews).
/// Same kubeconfig credentials and TLS rules as <see cref="KubernetesClient"/>; errors are its typed exceptions.
/// </summary>
internal sealed class KubernetesWriter : IDisposable
{
    private readonly KubernetesConfig _config;
    private readonly HttpClient _http;

    public KubernetesWriter(KubernetesConfig config)
    {
        _config = config;
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, c, chain, errors) => config.ValidateServerCertificate(c, chain, errors);
        if (config.ClientCertificate is { } certificate)
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>
    /// Reads the object, applies <paramref name="change"/> and PUTs it back (to <c>/status</c> when
    /// <paramref name="status"/>), retrying on 409 Conflict as every controller does.
    /// </summary>
    /// <exception cref="KubernetesNotFoundException">The object is gone.</exception>
    public async Task<JsonObject> UpdateAsync(ResourceKind kind, string ns, string name, Action<JsonObject> change, bool status, CancellationToken ct)
    {
        var path = kind.ObjectPath(ns, name);
        for (var attempt = 0; ; attempt++)
        {
            var current = (await SendAsync(HttpMethod.Get, path, null, new KubernetesRequest("get", kind, ns, name), ct))!;
            change(current);
            try
            {
                return (await SendAsync(HttpMethod.Put, status ? path + "/status" : path, current,
                    new KubernetesRequest("update", kind, ns, name, status ? "status" : null), ct))!;
            }
            catch (KubernetesConflictException) when (attempt < 10)
            {
            }
        }
    }

    /// <summary>Sends one request and returns the JSON answer; non-2xx answers become the client's typed exceptions.</summary>
    public async Task<JsonObject?> SendAsync(HttpMethod method, string pathAndQuery, JsonObject? body, KubernetesRequest request, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(method, _config.Context.Server.AbsoluteUri.TrimEnd('/') + pathAndQuery);
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        var credential = await _config.Credentials.GetAsync(ct);
        if (credential.Token is not null)
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential.Token);
        if (body is not null)
            message.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await _http.SendAsync(message, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        var json = text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject;
        if (response.IsSuccessStatusCode)
            return json;
        throw KubernetesErrorMapper.FromResponse((int)response.StatusCode, (string?)json?["kind"] == "Status" ? json : null, text, request, _config.Context);
    }

    public void Dispose() => _http.Dispose();
}
