namespace RestoreOps.ObjectStore;

/// <summary>An <c>s3://bucket/some/path</c> location: the bucket and a key prefix without slashes at either end.</summary>
/// <param name="Bucket">Bucket name.</param>
/// <param name="Prefix">Key prefix inside the bucket, empty for the bucket root, never ending in <c>/</c>.</param>
internal sealed record S3Location(string Bucket, string Prefix)
{
    private const string Scheme = "s3://";

    /// <summary>Parses <c>s3://bucket[/path]</c>, the form Barman Cloud's destination path and CNPG's <c>destinationPath</c> use.</summary>
    /// <exception cref="ConfigurationException">The value is not of that form.</exception>
    public static S3Location Parse(string value)
    {
        if (TryParse(value, out var location)) return location;
        throw new ConfigurationException(
            $"'{value}' is not an S3 location.",
            "Give it as s3://BUCKET or s3://BUCKET/PATH, e.g. s3://backups/pg (the Barman Cloud destination path, without the server name).");
    }

    /// <summary>Parses <c>s3://bucket[/path]</c>; false when the value is not of that form.</summary>
    public static bool TryParse(string? value, out S3Location location)
    {
        location = null!;
        if (string.IsNullOrWhiteSpace(value)) return false;
        value = value.Trim();
        if (!value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return false;

        var rest = value.AsSpan(Scheme.Length);
        var slash = rest.IndexOf('/');
        var bucket = slash < 0 ? rest : rest[..slash];
        if (!IsBucketName(bucket)) return false;
        // Barman strips leading slashes and joins with os.path.join, so surrounding slashes carry no meaning.
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/').ToString();
        location = new S3Location(bucket.ToString(), prefix);
        return true;
    }

    // Looser than AWS's rules (which forbid upper case and underscores) because older buckets and
    // S3-compatible stores allow them; strict enough to catch a pasted URL or a stray space.
    private static bool IsBucketName(ReadOnlySpan<char> bucket)
    {
        if (bucket.Length is < 1 or > 255) return false;
        foreach (var c in bucket)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_')) return false;
        return true;
    }

    /// <summary>Joins <paramref name="parts"/> under the prefix with single slashes.</summary>
    public string Key(params string[] parts)
    {
        var all = new List<string>(parts.Length + 1);
        if (Prefix.Length > 0) all.Add(Prefix);
        foreach (var part in parts)
        {
            var trimmed = part.Trim('/');
            if (trimmed.Length > 0) all.Add(trimmed);
        }
        return string.Join('/', all);
    }

    /// <summary>The location under this one, e.g. the server folder below a destination path.</summary>
    public S3Location Child(string path) => this with { Prefix = Key(path) };

    /// <inheritdoc />
    public override string ToString() => Prefix.Length == 0 ? $"{Scheme}{Bucket}" : $"{Scheme}{Bucket}/{Prefix}";
}
