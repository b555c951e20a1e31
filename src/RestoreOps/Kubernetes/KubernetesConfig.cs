using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RestoreOps.Kubernetes;

/// <summary>
/// How to reach one API server and as whom: loaded from kubeconfig files (as kubectl merges them) or from the
/// pod's service account. Holds credentials, so <see cref="ToString"/> shows only the context.
/// </summary>
/// <example>
/// <code>
/// var config = KubernetesConfig.Resolve(kubeconfigPath: null, contextName: "staging"); // KUBECONFIG, ~/.kube/config, or in-cluster
/// using var api = new KubernetesClient(config);
/// </code>
/// </example>
internal sealed class KubernetesConfig
{
    /// <summary>How often a token file is re-read even when it looks unchanged.</summary>
    internal static readonly TimeSpan TokenFileMaxAge = TimeSpan.FromMinutes(1);

    internal KubernetesConfig(KubernetesContext context, CredentialSource credentials, X509Certificate2Collection? authorities,
        X509Certificate2? clientCertificate, bool insecureSkipTlsVerify, string? tlsServerName)
    {
        Context = context;
        Credentials = credentials;
        CertificateAuthorities = authorities;
        ClientCertificate = clientCertificate;
        InsecureSkipTlsVerify = insecureSkipTlsVerify;
        TlsServerName = tlsServerName;
    }

    /// <summary>Server, context, namespace and user names.</summary>
    public KubernetesContext Context { get; }

    /// <summary>The kubeconfig asked not to verify the server certificate.</summary>
    public bool InsecureSkipTlsVerify { get; }

    /// <summary>Per-request timeout (not applied to watches or port-forwards, which live long).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    internal CredentialSource Credentials { get; }
    internal X509Certificate2Collection? CertificateAuthorities { get; }
    internal X509Certificate2? ClientCertificate { get; }
    internal string? TlsServerName { get; }

    /// <inheritdoc />
    public override string ToString() => $"context \"{Context.ContextName}\" ({Context.Server}, namespace \"{Context.Namespace}\", user \"{Context.UserName}\")";

    /// <summary>
    /// Explicit kubeconfig, else <c>KUBECONFIG</c>, else <c>~/.kube/config</c>, else the in-cluster service account.
    /// </summary>
    public static KubernetesConfig Resolve(string? kubeconfigPath = null, string? contextName = null)
    {
        if (kubeconfigPath is null && Environment.GetEnvironmentVariable("KUBECONFIG") is not { Length: > 0 }
            && !File.Exists(DefaultKubeconfig(Environment.GetEnvironmentVariable))
            && Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") is { Length: > 0 })
            return InCluster();
        return Load(kubeconfigPath, contextName);
    }

    /// <summary>
    /// Loads kubeconfig files. <paramref name="kubeconfigPath"/> (or <c>KUBECONFIG</c>, or <c>~/.kube/config</c>) may
    /// list several files separated by <see cref="Path.PathSeparator"/>; for each cluster, user and context name and
    /// for <c>current-context</c> the first file that sets it wins, as with kubectl.
    /// </summary>
    /// <param name="kubeconfigPath">File(s) to read; null for the defaults.</param>
    /// <param name="contextName">Context to use; null for <c>current-context</c>.</param>
    /// <exception cref="ConfigurationException">Missing files, unknown context, unreadable certificates.</exception>
    public static KubernetesConfig Load(string? kubeconfigPath = null, string? contextName = null) =>
        Load(kubeconfigPath, contextName, Environment.GetEnvironmentVariable, TimeProvider.System);

    internal static KubernetesConfig Load(string? kubeconfigPath, string? contextName, Func<string, string?> env, TimeProvider time)
    {
        var source = kubeconfigPath ?? env("KUBECONFIG");
        var paths = (source is { Length: > 0 } ? source.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries) : [DefaultKubeconfig(env)])
            .Select(ExpandHome(env)).ToList();
        var origin = kubeconfigPath is not null ? InputKey.Kubeconfig.Ref() : source is { Length: > 0 } ? "KUBECONFIG" : "the default location";

        var clusters = new Dictionary<string, (JsonObject Body, string Dir)>(StringComparer.Ordinal);
        var users = new Dictionary<string, (JsonObject Body, string Dir)>(StringComparer.Ordinal);
        var contexts = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        string? currentContext = null;
        var found = 0;
        foreach (var path in paths)
        {
            // kubectl skips KUBECONFIG entries that do not exist; an explicit single file must exist.
            if (!File.Exists(path))
            {
                if (kubeconfigPath is not null && paths.Count == 1)
                    throw new ConfigurationException($"The kubeconfig file \"{path}\" does not exist.", $"pass the path of an existing kubeconfig ({InputKey.Kubeconfig.Ref()}).");
                continue;
            }
            found++;
            var root = ReadYaml(path);
            var dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
            if (currentContext is null && (string?)root["current-context"] is { Length: > 0 } cc)
                currentContext = cc;
            foreach (var (name, body) in Named(root, "clusters", "cluster", path))
                clusters.TryAdd(name, (body, dir));
            foreach (var (name, body) in Named(root, "users", "user", path))
                users.TryAdd(name, (body, dir));
            foreach (var (name, body) in Named(root, "contexts", "context", path))
                contexts.TryAdd(name, body);
        }
        if (found == 0)
            throw new ConfigurationException(
                $"No kubeconfig found ({origin}: {string.Join(", ", paths)}).",
                $"pass {InputKey.Kubeconfig.Ref()}, set KUBECONFIG, or run inside a pod with a service account.");

        var contextKey = contextName ?? currentContext
            ?? throw new ConfigurationException(
                $"The kubeconfig ({string.Join(", ", paths)}) has no current-context and no context was given.",
                $"pass {InputKey.Context.Ref()} (one of: {List(contexts.Keys)}) or run `kubectl config use-context <name>`.");
        if (!contexts.TryGetValue(contextKey, out var context))
            throw new ConfigurationException(
                $"The context \"{contextKey}\" is not in the kubeconfig ({string.Join(", ", paths)}).",
                $"use one of: {List(contexts.Keys)}.");

        var clusterName = (string?)context["cluster"] ?? "";
        if (!clusters.TryGetValue(clusterName, out var cluster))
            throw new ConfigurationException($"Context \"{contextKey}\" refers to cluster \"{clusterName}\", which the kubeconfig does not define.", "add the cluster entry or fix the context.");
        var userName = (string?)context["user"] ?? "";
        var user = users.TryGetValue(userName, out var u) ? u : (Body: new JsonObject(), Dir: ".");
        var ns = (string?)context["namespace"] is { Length: > 0 } n ? n : "default";

        var serverText = (string?)cluster.Body["server"];
        if (serverText is null || !Uri.TryCreate(serverText, UriKind.Absolute, out var server) || (server.Scheme != "https" && server.Scheme != "http"))
            throw new ConfigurationException($"Cluster \"{clusterName}\" in the kubeconfig has no valid server URL (\"{serverText}\").", "set clusters[].cluster.server to https://host:port.");

        var insecure = IsTrue(cluster.Body["insecure-skip-tls-verify"]);
        X509Certificate2Collection? authorities = null;
        if (!insecure)
        {
            var caPem = DataOrFile(cluster.Body, "certificate-authority-data", "certificate-authority", cluster.Dir, $"cluster \"{clusterName}\"");
            if (caPem is not null)
                authorities = LoadAuthorities(caPem, $"certificate-authority of cluster \"{clusterName}\"");
        }

        var what = $"user \"{userName}\"";
        X509Certificate2? clientCertificate = null;
        var certPem = DataOrFile(user.Body, "client-certificate-data", "client-certificate", user.Dir, what);
        var keyPem = DataOrFile(user.Body, "client-key-data", "client-key", user.Dir, what);
        if (certPem is not null || keyPem is not null)
        {
            if (certPem is null || keyPem is null)
                throw new ConfigurationException($"Kubeconfig {what} has a client certificate or key but not both.", "set both client-certificate(-data) and client-key(-data).");
            clientCertificate = LoadClientCertificate(certPem, keyPem, $"kubeconfig {what}");
        }

        CredentialSource credentials = CredentialSource.None;
        if ((string?)user.Body["token"] is { Length: > 0 } token)
            credentials = new StaticCredential(new KubernetesCredential(token, null, null));
        else if ((string?)user.Body["tokenFile"] is { Length: > 0 } tokenFile)
            credentials = new TokenFileCredential(ResolvePath(tokenFile, user.Dir), $"tokenFile of kubeconfig {what}", time, TokenFileMaxAge);
        else if (user.Body["exec"] is JsonObject exec)
            credentials = new ExecCredential(ReadExec(exec, user.Dir, what), userName, ClusterInfo(server, cluster.Body, insecure, authorities), time);
        else if (user.Body["auth-provider"] is JsonObject provider)
            throw new ConfigurationException(
                $"Kubeconfig {what} uses the removed auth-provider \"{(string?)provider["name"]}\".",
                "switch to its exec plugin (e.g. gke-gcloud-auth-plugin or kubelogin), as kubectl 1.26+ requires.");
        else if (user.Body["username"] is not null)
            throw new ConfigurationException($"Kubeconfig {what} uses basic auth (username/password), which RestoreOps does not send.", "use a token, client certificate or exec plugin.");

        return new KubernetesConfig(
            new KubernetesContext(server, contextKey, ns, userName, clusterName),
            credentials, authorities, clientCertificate, insecure, (string?)cluster.Body["tls-server-name"]);
    }

    /// <summary>
    /// The pod's own identity: <c>KUBERNETES_SERVICE_HOST</c>/<c>PORT</c> and the mounted service account (token,
    /// ca.crt, namespace). The token is re-read as the kubelet rotates it.
    /// </summary>
    /// <param name="serviceAccountDirectory">Defaults to <c>/var/run/secrets/kubernetes.io/serviceaccount</c>.</param>
    /// <exception cref="ConfigurationException">Not running in a pod, or the service account is not mounted.</exception>
    public static KubernetesConfig InCluster(string? serviceAccountDirectory = null) =>
        InCluster(serviceAccountDirectory, Environment.GetEnvironmentVariable, TimeProvider.System);

    internal static KubernetesConfig InCluster(string? serviceAccountDirectory, Func<string, string?> env, TimeProvider time, TimeSpan? tokenMaxAge = null)
    {
        var dir = serviceAccountDirectory ?? "/var/run/secrets/kubernetes.io/serviceaccount";
        var host = env("KUBERNETES_SERVICE_HOST");
        var port = env("KUBERNETES_SERVICE_PORT");
        if (host is not { Length: > 0 } || port is not { Length: > 0 })
            throw new ConfigurationException(
                "Not running inside a Kubernetes pod: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT are not set.",
                $"pass {InputKey.Kubeconfig.Ref()} or set KUBECONFIG when running outside the cluster.");
        var tokenPath = Path.Combine(dir, "token");
        if (!File.Exists(tokenPath))
            throw new ConfigurationException(
                $"The service account token \"{tokenPath}\" does not exist.",
                "set automountServiceAccountToken: true on the pod (or its service account), or use a kubeconfig.");
        var hostPart = host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;
        var server = new Uri($"https://{hostPart}:{port}");

        var caPath = Path.Combine(dir, "ca.crt");
        var authorities = File.Exists(caPath) ? LoadAuthorities(File.ReadAllText(caPath), $"in-cluster CA \"{caPath}\"") : null;
        var nsPath = Path.Combine(dir, "namespace");
        var ns = File.Exists(nsPath) ? File.ReadAllText(nsPath).Trim() : "default";

        var credentials = new TokenFileCredential(tokenPath, $"in-cluster service account token", time, tokenMaxAge ?? TokenFileMaxAge);
        // The identity makes 403 messages useful even before the server names it.
        var subject = JwtSubject.TryRead(File.ReadAllText(tokenPath).Trim()) ?? "service account";
        return new KubernetesConfig(new KubernetesContext(server, "in-cluster", ns, subject, "in-cluster"), credentials, authorities, null, false, null);
    }

    /// <summary>A config for a known server and token (tests, or callers that discovered them elsewhere).</summary>
    /// <example><code>var config = KubernetesConfig.ForServer(new Uri("http://127.0.0.1:8001"), token: null); // kubectl proxy</code></example>
    public static KubernetesConfig ForServer(Uri server, string? token, string @namespace = "default", string userName = "default") =>
        new(new KubernetesContext(server, "explicit", @namespace, userName, "explicit"),
            token is null ? CredentialSource.None : new StaticCredential(new KubernetesCredential(token, null, null)),
            null, null, false, null);

    /// <summary>The same identity and TLS settings against another server URL (tests point in-cluster configs at a fake server).</summary>
    internal KubernetesConfig WithServer(Uri server) =>
        new(Context with { Server = server }, Credentials, CertificateAuthorities, ClientCertificate, InsecureSkipTlsVerify, TlsServerName) { Timeout = Timeout };

    /// <summary>
    /// Validates the server certificate against the kubeconfig's CA only (not the OS store), as kubectl does;
    /// falls back to normal validation when no CA is configured.
    /// </summary>
    internal bool ValidateServerCertificate(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (InsecureSkipTlsVerify)
            return true;
        if (CertificateAuthorities is null)
            return TlsServerName is null
                ? errors == SslPolicyErrors.None
                : (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None
                  && certificate is X509Certificate2 c && c.MatchesHostname(TlsServerName);
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
            return false;
        var leaf = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
        // tls-server-name: the certificate is checked against that name instead of the URL's host (SNI still
        // carries the URL's host; SocketsHttpHandler does not let it differ).
        if (TlsServerName is not null ? !leaf.MatchesHostname(TlsServerName) : (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            return false;
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(CertificateAuthorities);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
            foreach (var element in chain.ChainElements)
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        return custom.Build(leaf);
    }

    internal static X509Certificate2 LoadClientCertificate(string certPem, string keyPem, string origin)
    {
        try
        {
            using var fromPem = X509Certificate2.CreateFromPem(certPem, keyPem);
            // SslStream on Windows cannot use an ephemeral PEM key; a PKCS#12 round trip gives it a persisted one.
            return new X509Certificate2(fromPem.Export(X509ContentType.Pkcs12));
        }
        catch (CryptographicException e)
        {
            throw new ConfigurationException(
                $"The client certificate or key of {origin} could not be read: {e.Message}.",
                "check that it is a PEM certificate and the matching PEM private key (RSA, EC or PKCS#8).", e);
        }
    }

    internal static X509Certificate2Collection LoadAuthorities(string pem, string origin)
    {
        var collection = new X509Certificate2Collection();
        try { collection.ImportFromPem(pem); }
        catch (CryptographicException e)
        {
            throw new ConfigurationException($"The {origin} could not be read: {e.Message}.", "it must contain PEM certificates (-----BEGIN CERTIFICATE-----).", e);
        }
        if (collection.Count == 0)
            throw new ConfigurationException($"The {origin} contains no PEM certificate.", "it must contain PEM certificates (-----BEGIN CERTIFICATE-----).");
        return collection;
    }

    private static ExecPluginSettings ReadExec(JsonObject exec, string dir, string what)
    {
        var command = (string?)exec["command"] ?? throw new ConfigurationException($"The exec section of kubeconfig {what} has no command.", "set users[].user.exec.command.");
        var apiVersion = (string?)exec["apiVersion"] ?? ExecPluginSettings.V1Beta1;
        if (apiVersion is not (ExecPluginSettings.V1 or ExecPluginSettings.V1Beta1))
            throw new ConfigurationException(
                $"The exec plugin of kubeconfig {what} uses apiVersion {apiVersion}.",
                $"use {ExecPluginSettings.V1} or {ExecPluginSettings.V1Beta1} (v1alpha1 was removed from Kubernetes).");
        // client-go resolves a relative command with a slash against the kubeconfig's folder; bare names use PATH.
        if (!Path.IsPathRooted(command) && command.Contains('/'))
            command = Path.GetFullPath(Path.Combine(dir, command));
        var args = (exec["args"] as JsonArray)?.Select(a => (string?)a ?? "").ToList() ?? [];
        var env = (exec["env"] as JsonArray)?.OfType<JsonObject>()
            .Select(e => new KeyValuePair<string, string>((string?)e["name"] ?? "", (string?)e["value"] ?? ""))
            .Where(e => e.Key.Length > 0).ToList() ?? [];
        return new ExecPluginSettings(command, args, env, apiVersion, (string?)exec["installHint"],
            IsTrue(exec["provideClusterInfo"]), (string?)exec["interactiveMode"] ?? "IfAvailable");
    }

    private static JsonObject ClusterInfo(Uri server, JsonObject cluster, bool insecure, X509Certificate2Collection? authorities)
    {
        var info = new JsonObject { ["server"] = server.ToString().TrimEnd('/'), ["insecure-skip-tls-verify"] = insecure };
        if (authorities is not null)
            info["certificate-authority-data"] = Convert.ToBase64String(Encoding.ASCII.GetBytes(
                string.Concat(authorities.Select(c => c.ExportCertificatePem() + "\n"))));
        if ((string?)cluster["tls-server-name"] is { } tlsName)
            info["tls-server-name"] = tlsName;
        if (cluster["extensions"] is JsonArray extensions
            && extensions.OfType<JsonObject>().FirstOrDefault(e => (string?)e["name"] == "client.authentication.k8s.io/exec") is { } ext)
            info["config"] = ext["extension"]?.DeepClone();
        return info;
    }

    private static string? DataOrFile(JsonObject body, string dataKey, string fileKey, string dir, string what)
    {
        if ((string?)body[dataKey] is { Length: > 0 } data)
        {
            try { return Encoding.UTF8.GetString(Convert.FromBase64String(data)); }
            catch (FormatException e)
            {
                throw new ConfigurationException($"{dataKey} of kubeconfig {what} is not valid base64.", $"it must be the base64 of the PEM file (base64 -w0 file), or use {fileKey} with a path.", e);
            }
        }
        if ((string?)body[fileKey] is { Length: > 0 } file)
        {
            var path = ResolvePath(file, dir);
            if (!File.Exists(path))
                throw new ConfigurationException($"{fileKey} of kubeconfig {what} points at \"{path}\", which does not exist.", $"fix the path or use {dataKey}.");
            return File.ReadAllText(path);
        }
        return null;
    }

    private static string ResolvePath(string path, string dir) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(dir, path));

    private static bool IsTrue(JsonNode? node) => node is not null && string.Equals(node.ToString(), "true", StringComparison.OrdinalIgnoreCase);

    private static string List(IEnumerable<string> names)
    {
        var list = names.Order(StringComparer.Ordinal).Select(n => $"\"{n}\"").ToList();
        return list.Count == 0 ? "(none defined)" : string.Join(", ", list);
    }

    private static string DefaultKubeconfig(Func<string, string?> env)
    {
        var home = env("HOME") ?? env("USERPROFILE") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".kube", "config");
    }

    private static Func<string, string> ExpandHome(Func<string, string?> env) => path =>
        path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(env("HOME") ?? "", path[2..]) : path;

    private static IEnumerable<(string Name, JsonObject Body)> Named(JsonObject root, string listKey, string bodyKey, string path)
    {
        if (root[listKey] is not JsonArray list)
            yield break;
        foreach (var entry in list.OfType<JsonObject>())
        {
            var name = (string?)entry["name"]
                ?? throw new ConfigurationException($"An entry of {listKey} in the kubeconfig \"{path}\" has no name.", "give every cluster, user and context a name.");
            yield return (name, entry[bodyKey] as JsonObject ?? new JsonObject());
        }
    }

    private const long KubeconfigMaxBytes = 16 * 1024 * 1024;
    private const long KubeconfigMaxNodes = 1_000_000;

    private static JsonObject ReadYaml(string path)
    {
        try
        {
            // Aliases are legal in a kubeconfig (kubectl reads them), so they are bounded by what they expand to, not refused.
            Checks.YamlGuard.CheckFileSize(path, $"The kubeconfig \"{path}\"", "a kubeconfig", KubeconfigMaxBytes);
            var text = File.ReadAllText(path);
            Checks.YamlGuard.Check(text, $"The kubeconfig \"{path}\"", "a kubeconfig", KubeconfigMaxBytes, KubeconfigMaxNodes);
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.Count == 0)
                return new JsonObject();
            return ToJson(stream.Documents[0].RootNode) as JsonObject
                ?? throw new ConfigurationException($"The kubeconfig \"{path}\" is not a YAML mapping.", "check that the file is a kubeconfig.");
        }
        catch (YamlException e)
        {
            throw new ConfigurationException($"The kubeconfig \"{path}\" is not valid YAML: {e.Message} (line {e.Start.Line}).", "fix the file (kubectl config view shows the merged result).", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"The kubeconfig \"{path}\" could not be read: {e.Message}", "make it readable by this user.", e);
        }
    }

    // Scalars stay strings: kubeconfig values are strings or booleans, and IsTrue reads the latter.
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children
            .Where(kv => kv.Key is YamlScalarNode)
            .GroupBy(kv => ((YamlScalarNode)kv.Key).Value ?? "")
            .Select(g => KeyValuePair.Create(g.Key, ToJson(g.Last().Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Value: null or "" or "~" or "null", Style: ScalarStyle.Plain } => null,
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => null,
    };
}
