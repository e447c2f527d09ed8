using System.Buffers.Binary;

namespace MlPipelines.ManagedEngine.Tests.Quantization;

/// <summary>
/// Builds llama2.c version-2 files from the format description (not from the reader): a 256-byte header,
/// fp32 norms, then each Q8_0 tensor's int8 values followed by its scales.
/// </summary>
internal static class Q80Bytes
{
    public record Shape(int Dim, int Hidden, int Layers, int Heads, int KvHeads, int Vocab, int SeqLen, bool Shared, int GroupSize)
    {
        public int KvDim => Dim / Heads * KvHeads;

        /// <summary>Element counts of the quantised tensors in file order.</summary>
        public IEnumerable<long> Tensors()
        {
            yield return (long)Vocab * Dim;
            foreach (long n in new long[] { Dim * Dim, KvDim * Dim, KvDim * Dim, Dim * Dim, Hidden * Dim, Hidden * Dim, Hidden * Dim })
                for (int l = 0; l < Layers; l++)
                    yield return n;
            if (!Shared) yield return (long)Vocab * Dim;
        }

        public long NormFloats => 2L * Layers * Dim + Dim;

        public long FileBytes => 256 + 4 * NormFloats + Tensors().Sum(n => n + 4 * (n / GroupSize));
    }

    public static byte[] Header(Shape s, uint magic = 0x616b3432, int version = 2, byte? sharedFlag = null, int? groupSize = null)
    {
        var h = new byte[256];
        BinaryPrimitives.WriteUInt32LittleEndian(h, magic);
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(4), version);
        int[] fields = [s.Dim, s.Hidden, s.Layers, s.Heads, s.KvHeads, s.Vocab, s.SeqLen];
        for (int i = 0; i < fields.Length; i++)
            BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(8 + 4 * i), fields[i]);
        h[36] = sharedFlag ?? (byte)(s.Shared ? 1 : 0);
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(37), groupSize ?? s.GroupSize);
        return h;
    }

    /// <summary>A valid file: norms 1 + index/1000, int8 values from <paramref name="rng"/>, scales 0.01 + group/1e5.</summary>
    public static byte[] File(Shape s, Random rng, long extraBytes = 0)
    {
        var bytes = new byte[s.FileBytes + Math.Max(0, extraBytes)];
        Header(s).CopyTo(bytes, 0);
        long o = 256;
        for (long i = 0; i < s.NormFloats; i++, o += 4)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)o), 1 + i / 1000f);
        foreach (long n in s.Tensors())
        {
            for (long i = 0; i < n; i++)
                bytes[o++] = (byte)rng.Next(-127, 128);
            for (long g = 0; g < n / s.GroupSize; g++, o += 4)
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)o), 0.01f + g / 1e5f);
        }
        Array.Resize(ref bytes, (int)(s.FileBytes + extraBytes));
        return bytes;
    }
}
