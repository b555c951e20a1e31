using RestoreOps.ObjectStore;
using Xunit;

namespace RestoreOps.Tests.ObjectStore;

public sealed class ObjectStoreOptionsTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value);
        return name => map.GetValueOrDefault(name);
    }

    [Fact]
    public void Environment_fills_what_was_not_given()
    {
        var resolved = new ObjectStoreOptions().Resolve(Env(
            ("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "envsecret"), ("AWS_SESSION_TOKEN", "envtoken"),
            ("AWS_DEFAULT_REGION", "eu-central-1"), ("AWS_ENDPOINT_URL", "http://minio:9000/")));
        Assert.Equal("AKIAENV", resolved.AccessKeyId);
        Assert.Equal("envsecret", resolved.SecretAccessKey);
        Assert.Equal("envtoken", resolved.SessionToken);
        Assert.Equal("eu-central-1", resolved.Region);
        Assert.Equal("http://minio:9000", resolved.EndpointUrl);
        Assert.True(resolved.UsePathStyle);
        Assert.False(resolved.UsesDefaultCredentialChain);
    }

    [Fact]
    public void Explicit_values_win_and_specific_variables_beat_generic_ones()
    {
        var resolved = new ObjectStoreOptions { AccessKeyId = "AKIAEXPLICIT", SecretAccessKey = "explicit", Region = "us-west-2" }.Resolve(Env(
            ("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "envsecret"), ("AWS_SESSION_TOKEN", "envtoken"),
            ("AWS_REGION", "eu-west-1"), ("AWS_DEFAULT_REGION", "eu-central-1"),
            ("AWS_ENDPOINT_URL_S3", "https://s3.example"), ("AWS_ENDPOINT_URL", "http://other")));
        Assert.Equal("AKIAEXPLICIT", resolved.AccessKeyId);
        Assert.Equal("explicit", resolved.SecretAccessKey);
        Assert.Null(resolved.SessionToken);   // the environment's token belongs to the environment's key
        Assert.Equal("us-west-2", resolved.Region);
        Assert.Equal("https://s3.example", resolved.EndpointUrl);
    }

    [Fact]
    public void No_keys_anywhere_means_the_default_credential_chain_and_virtual_hosting_on_aws()
    {
        var resolved = new ObjectStoreOptions().Resolve(Env(("AWS_REGION", "eu-west-1")));
        Assert.True(resolved.UsesDefaultCredentialChain);
        Assert.Null(resolved.EndpointUrl);
        Assert.False(resolved.UsePathStyle);
        Assert.Contains("default credential chain", resolved.ToString());
    }

    [Fact]
    public void ToString_never_shows_the_secret_or_token()
    {
        var options = new ObjectStoreOptions { AccessKeyId = "AKIAX", SecretAccessKey = "very-secret-value", SessionToken = "token-value-123", EndpointUrl = "http://minio:9000" };
        var text = options.ToString();
        Assert.DoesNotContain("very-secret-value", text);
        Assert.DoesNotContain("token-value-123", text);
        Assert.Contains("AKIAX", text);
        Assert.Contains("http://minio:9000", text);
    }

    [Theory]
    [InlineData("minio:9000")]
    [InlineData("ftp://minio")]
    public void A_bad_endpoint_is_a_configuration_error_naming_it(string endpoint)
    {
        var ex = Assert.Throws<ConfigurationException>(() => new ObjectStoreOptions { EndpointUrl = endpoint }.Resolve(Env()));
        Assert.Contains(endpoint, ex.Message);
        Assert.Contains("--endpoint-url", ex.Render(InputSpelling.Cli));
        Assert.Contains("-EndpointUrl", ex.Render(InputSpelling.PowerShell));
        Assert.Equal(InputKey.EndpointUrl, ex.Parameter);
    }

    [Fact]
    public void A_key_without_a_secret_is_a_configuration_error()
    {
        var ex = Assert.Throws<ConfigurationException>(() => new ObjectStoreOptions { AccessKeyId = "AKIAX" }.Resolve(Env()));
        Assert.Contains("AWS_SECRET_ACCESS_KEY", ex.Message);
    }
}
