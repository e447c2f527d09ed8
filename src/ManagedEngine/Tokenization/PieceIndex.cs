using System.Text;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>
/// Exact byte-string lookup of pieces. Keys are the pieces' raw bytes widened one byte per char
/// (Latin-1), so comparisons are bytewise like llama2.c's <c>strcmp</c> and sentencepiece's
/// <c>string_view</c> map, and merged candidates can be looked up as spans without allocating.
/// </summary>
internal sealed class PieceIndex
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spans;

    public PieceIndex() => _spans = _ids.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Bytes → key string (one char per byte).</summary>
    public static string Key(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    /// <summary>Adds a piece; returns false if the same bytes are already present (the first id is kept).</summary>
    public bool TryAdd(string key, int id) => _ids.TryAdd(key, id);

    public bool TryGet(ReadOnlySpan<char> key, out int id) => _spans.TryGetValue(key, out id);
}
