namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>
/// Precomputed answers of llama2.c's <c>decode(prev, token)</c> for every token, in one byte blob:
/// the piece, or with its leading space dropped when it follows BOS, and a piece that reads
/// <c>&lt;0xXX&gt;</c> as its single raw byte. Generation streams through this without allocating.
/// </summary>
internal sealed class RunCPieceTable
{
    private readonly byte[] _blob;
    private readonly int[] _offsets; // [2 * id] plain, [2 * id + 1] after BOS; start offsets
    private readonly int[] _lengths;
    private readonly int _bosId;

    /// <param name="pieces">Each token's piece bytes as llama2.c's tokenizer.bin stores them (spaces, not '▁').</param>
    /// <param name="bosId">The id after which the leading space is dropped (llama2.c hard-codes 1).</param>
    public RunCPieceTable(IReadOnlyList<byte[]> pieces, int bosId)
    {
        _bosId = bosId;
        _offsets = new int[pieces.Count * 2];
        _lengths = new int[pieces.Count * 2];
        var blob = new List<byte>();
        for (int id = 0; id < pieces.Count; id++)
            for (int afterBos = 0; afterBos < 2; afterBos++)
            {
                ReadOnlySpan<byte> piece = pieces[id];
                if (afterBos == 1 && piece.Length > 0 && piece[0] == (byte)' ') piece = piece[1..];
                _offsets[2 * id + afterBos] = blob.Count;
                if (TryParseBytePiece(piece, out byte value)) blob.Add(value);
                else blob.AddRange(piece);
                _lengths[2 * id + afterBos] = blob.Count - _offsets[2 * id + afterBos];
            }
        _blob = blob.ToArray();
    }

    public int Count => _offsets.Length / 2;

    public ReadOnlySpan<byte> Get(int previous, int token)
    {
        if ((uint)token >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Token id must be in [0, {Count}).");
        int slot = 2 * token + (previous == _bosId ? 1 : 0);
        return new ReadOnlySpan<byte>(_blob, _offsets[slot], _lengths[slot]);
    }

    /// <summary>
    /// run.c's <c>sscanf(piece, "&lt;0x%02hhX&gt;", &amp;b) == 1</c>: "&lt;0x" then one or two hex digits.
    /// Like sscanf, what follows the digits is not checked (the closing '&gt;' cannot change the count).
    /// Not reproduced: sscanf's tolerance of whitespace, a sign or a second "0x" before the digits.
    /// </summary>
    internal static bool TryParseBytePiece(ReadOnlySpan<byte> piece, out byte value)
    {
        value = 0;
        if (piece.Length < 4 || piece[0] != '<' || piece[1] != '0' || piece[2] != 'x') return false;
        int digits = 0, result = 0;
        for (int i = 3; i < piece.Length && digits < 2; i++, digits++)
        {
            int d = HexValue(piece[i]);
            if (d < 0) break;
            result = result * 16 + d;
        }
        if (digits == 0) return false;
        value = (byte)result;
        return true;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };
}
