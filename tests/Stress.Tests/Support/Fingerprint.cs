using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace MlPipelines.Stress.Tests.Support;

/// <summary>
/// Results as short strings that are equal exactly when the results are bit for bit equal: token ids as they are,
/// floats as the SHA-256 of their bits (so -0 and 0, or two NaNs, are told apart, and 32 000-wide logits stay small),
/// so every kind of call is compared the same way.
/// </summary>
internal static class Fingerprint
{
    public static string Of(IEnumerable<int> ids) => string.Join(' ', ids);

    public static string Of(ReadOnlySpan<float> values) => Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(values)));

    public static string Of(IEnumerable<float[]> vectors) => string.Join('|', vectors.Select(v => Of(v)));
}
