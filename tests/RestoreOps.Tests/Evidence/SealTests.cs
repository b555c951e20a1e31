using System.Text;
using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

public class SealTests
{
    private static readonly byte[] Key = "a-signing-key-for-tests"u8.ToArray();

    private static async Task<string> WrittenRecordAsync(byte[]? key)
    {
        var dir = TestLocations.NewTempDirectory();
        return await DrillRecordJson.WriteAsync(SampleRecords.Passed(), dir, key, CancellationToken.None);
    }

    [Fact]
    public async Task A_written_record_verifies()
    {
        var text = await File.ReadAllTextAsync(await WrittenRecordAsync(null));
        var result = RecordSeal.Verify(text, null);
        Assert.Equal(SealStatus.Valid, result.Status);
        Assert.Contains("\"digest\": \"sha256:", text);
    }

    [Fact]
    public async Task Changing_any_one_byte_of_the_content_fails_verification()
    {
        var bytes = await File.ReadAllBytesAsync(await WrittenRecordAsync(null));
        var text = Encoding.UTF8.GetString(bytes);
        // Every digit and letter inside a value: the places a forger would touch (a duration, a verdict, an id).
        var digestStart = text.IndexOf("\"digest\"", StringComparison.Ordinal);
        var digestEnd = text.IndexOf('\n', digestStart);
        var tried = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (i >= digestStart && i < digestEnd) continue;
            var b = bytes[i];
            if (!(b is >= (byte)'0' and <= (byte)'9' || b is >= (byte)'a' and <= (byte)'z')) continue;
            var copy = (byte[])bytes.Clone();
            copy[i] = b == (byte)'9' ? (byte)'8' : b == (byte)'z' ? (byte)'y' : (byte)(b + 1);
            var tampered = Encoding.UTF8.GetString(copy);
            var result = RecordSeal.Verify(tampered, null);
            Assert.True(result.Status is SealStatus.DigestMismatch or SealStatus.Malformed, $"byte {i} ('{(char)b}') changed yet verify said {result.Status}");
            tried++;
        }
        Assert.True(tried > 500, $"only {tried} bytes tried");
    }

    [Fact]
    public async Task Whitespace_and_member_order_do_not_matter_but_values_do()
    {
        var text = await File.ReadAllTextAsync(await WrittenRecordAsync(null));
        var node = System.Text.Json.Nodes.JsonNode.Parse(text)!.AsObject();
        // Reversed member order and no indentation: the same canonical form.
        var reordered = new System.Text.Json.Nodes.JsonObject();
        foreach (var (k, v) in node.ToList().AsEnumerable().Reverse()) { node.Remove(k); reordered[k] = v; }
        Assert.Equal(SealStatus.Valid, RecordSeal.Verify(reordered.ToJsonString(), null).Status);
        Assert.Equal(SealStatus.DigestMismatch, RecordSeal.Verify(text.Replace("\"verdict\": \"passed\"", "\"verdict\": \"failed\""), null).Status);
    }

    [Fact]
    public async Task A_signed_record_verifies_with_its_key_and_not_with_another()
    {
        var text = await File.ReadAllTextAsync(await WrittenRecordAsync(Key));
        Assert.Contains("\"signature\": \"hmac-sha256:", text);
        Assert.DoesNotContain("a-signing-key-for-tests", text);
        var good = RecordSeal.Verify(text, Key);
        Assert.Equal(SealStatus.Valid, good.Status);
        Assert.True(good.SignatureChecked);
        Assert.Equal(SealStatus.SignatureMismatch, RecordSeal.Verify(text, "another-key"u8.ToArray()).Status);
    }

    [Fact]
    public async Task A_forger_who_recomputes_the_digest_is_caught_by_the_signature()
    {
        var text = await File.ReadAllTextAsync(await WrittenRecordAsync(Key));
        var record = DrillRecordJson.Deserialize(text.Replace("\"verdict\": \"passed\"", "\"verdict\": \"failed\""));
        var signature = record.Signature;
        RecordSeal.Seal(record, null);
        record.Signature = signature;
        var forged = DrillRecordJson.Serialize(record);
        Assert.Equal(SealStatus.Valid, RecordSeal.Verify(forged, null).Status);
        Assert.Equal(SealStatus.SignatureMismatch, RecordSeal.Verify(forged, Key).Status);
    }

    [Fact]
    public void Unsealed_and_malformed_documents_are_named_as_such()
    {
        Assert.Equal(SealStatus.Unsealed, RecordSeal.Verify(DrillRecordJson.Serialize(SampleRecords.Passed()), null).Status);
        Assert.Equal(SealStatus.Malformed, RecordSeal.Verify("{\"drillId\": ", null).Status);
        Assert.Equal(SealStatus.Malformed, RecordSeal.Verify("[1]", null).Status);
    }

    [Fact]
    public void The_canonical_form_is_the_documented_one()
    {
        // The example in docs/evidence.md, byte for byte: sorted members, no whitespace, digest and signature left out,
        // numbers as written, only quote, backslash and control characters escaped.
        var doc = "{ \"verdict\": \"passed\", \"b\": [1, 2.50, {\"z\": null, \"a\": true}], \"digest\": \"sha256:00\", \"signature\": \"x\", \"s\": \"é\\u0001\\\"</\" }";
        var canonical = Encoding.UTF8.GetString(CanonicalJson.FromDocument(doc));
        Assert.Equal("{\"b\":[1,2.50,{\"a\":true,\"z\":null}],\"s\":\"é\\u0001\\\"</\",\"verdict\":\"passed\"}", canonical);
        var docs = File.ReadAllText(Path.Combine(TestLocations.RepositoryRoot, "docs", "evidence.md"));
        Assert.Contains(canonical, docs);
    }

    [Fact]
    public void A_record_round_trips_through_json()
    {
        var original = SampleRecords.Failed();
        RecordSeal.Seal(original, null);
        var back = DrillRecordJson.Deserialize(DrillRecordJson.Serialize(original));
        Assert.Equal(original.Phases.Count, back.Phases.Count);
        Assert.Equal(original.Checks.Count, back.Checks.Count);
        Assert.Equal(original.Objectives.Count, back.Objectives.Count);
        Assert.Equal(original.Cleanup.Removed, back.Cleanup.Removed);
        // Durations are written to the millisecond.
        Assert.Equal(original.RestoreDuration!.Value.TotalSeconds, back.RestoreDuration!.Value.TotalSeconds, 3);
        Assert.Equal(original.Environment!.KubernetesContext, back.Environment!.KubernetesContext);
        Assert.Equal(original.StartedAt, back.StartedAt);
        Assert.Equal(original.Digest, back.Digest);
        // Re-serialising what was read gives the same seal: verify does not depend on RestoreOps' own reader.
        Assert.Equal(SealStatus.Valid, RecordSeal.Verify(DrillRecordJson.Serialize(back), null).Status);
    }
}
