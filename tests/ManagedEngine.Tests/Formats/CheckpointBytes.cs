using System.Buffers.Binary;

namespace MlPipelines.ManagedEngine.Tests.Formats;

/// <summary>
/// Independent helpers for building and probing llama2.c checkpoint bytes in tests, written from the
/// format description rather than from the reader, so a layout mistake in one shows up in the other.
/// </summary>
internal static class CheckpointBytes
{
    public const int HeaderBytes = 28;

    public static byte[] Header(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen)
    {
        var bytes = new byte[HeaderBytes];
        int[] fields = [dim, hidden, layers, heads, kvHeads, vocab, seqLen];
        for (int i = 0; i < fields.Length; i++)
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), fields[i]);
        return bytes;
    }

    /// <summary>Floats a version-0 file holds after its header for the given header fields.</summary>
    public static long FloatCount(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen)
    {
        long v = Math.Abs((long)vocab), L = layers, kvDim = (long)dim * kvHeads / heads, headSize = dim / heads;
        long perLayer = dim + dim * dim + 2 * kvDim * dim + dim * dim + dim + 3L * hidden * dim;
        return v * dim + L * perLayer + dim + 2 * seqLen * (headSize / 2) + (vocab < 0 ? v * dim : 0);
    }

    /// <summary>A complete, valid file of zeros (apart from the header) with the given shape.</summary>
    public static byte[] File(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, long extraBytes = 0)
    {
        long length = HeaderBytes + 4 * FloatCount(dim, hidden, layers, heads, kvHeads, vocab, seqLen) + extraBytes;
        var bytes = new byte[length];
        Header(dim, hidden, layers, heads, kvHeads, vocab, seqLen).CopyTo(bytes, 0);
        return bytes;
    }

    /// <summary>Reads the float at <paramref name="floatIndex"/> (counted from the end of the header).</summary>
    public static float ReadFloat(string path, long floatIndex)
    {
        using var stream = System.IO.File.OpenRead(path);
        stream.Position = HeaderBytes + 4 * floatIndex;
        Span<byte> b = stackalloc byte[4];
        stream.ReadExactly(b);
        return BinaryPrimitives.ReadSingleLittleEndian(b);
    }
}
