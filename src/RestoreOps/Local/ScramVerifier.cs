using System.Security.Cryptography;
using System.Text;

namespace RestoreOps.Local;

/// <summary>
/// Builds a SCRAM-SHA-256 verifier client-side, so a generated password is never sent to the server (or its
/// log, should the source have <c>log_statement = all</c>) in clear text. Same format as psql's \password.
/// </summary>
internal static class ScramVerifier
{
    public static string Create(string password, int iterations = 4096)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${iterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }

    /// <summary>A random password of URL-safe characters.</summary>
    public static string NewPassword() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', 'A').Replace('/', 'B').TrimEnd('=');
}
