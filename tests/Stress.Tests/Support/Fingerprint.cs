using System.Text;

namespace MlPipelines.Stress.Tests.Support;

/// <summary>
/// Results as strings that are equal exactly when the results are bit for bit equal (floats by their bits, so -0 and
/// 0 or two NaNs are told apart), so every kind of call is compared the same way and a mismatch prints readably.
/// </summary>
internal static class Fingerprint
{
    public static string Of(IEnumerable<int> ids) => string.Join(' ', ids);

    public static string Of(ReadOnlySpan<float> values)
    {
        var text = new StringBuilder(values.Length * 9);
        foreach (float value in values)
            text.Append(BitConverter.SingleToInt32Bits(value).ToString("x8")).Append(' ');
        return text.ToString();
    }

    public static string Of(IEnumerable<float[]> vectors) => string.Join('|', vectors.Select(v => Of(v)));
}
