using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// fp16 prefill on AVX-512 without a widened copy: the fp32 kernel's 512-bit tile reads the halves and converts them in
/// registers (the shift identity of HalfRows.Decode.cs), so the weights come from memory once, at half the bytes, and
/// no pass of widening stands between one block's products and the next. Measured on llama3-1b F16 (one thread,
/// prefill of 128): the widening pass, whose reads of the mapped file could not be overlapped with the products, took
/// 15–35 % of the time depending on the machine's memory phase.
/// </summary>
internal static unsafe partial class HalfRows
{
    /// <summary>
    /// Rows from <paramref name="rowStart"/> in blocks of <see cref="PrefillBlockRows"/> (the last one shorter, a
    /// multiple of four), every token (the activations already rebiased); returns the first row not done (fewer than four
    /// remain). The same bits as the widening path: each tile is the fp32 tile on the converted lanes (the tokens past
    /// the last six in a narrower one).
    /// </summary>
    private static int PrefillInRegisters(ushort* w, int cols, float* x, int tokens, float* y, int yStride, int rowStart, int rowEnd)
    {
        int sixes = tokens - tokens % 6;
        long rowBytes = 2L * cols;
        int r = rowStart;
        for (int block; r + 4 <= rowEnd; r += block)
        {
            block = Math.Min(PrefillBlockRows, (rowEnd - r) & ~3);
            int next = Math.Min(PrefillBlockRows, (rowEnd - r - block) & ~3);
            byte* w0 = (byte*)(w + (long)r * cols);
            // The next block into L2, a share before each token tile (a burst would stall on the full miss queue).
            var fetch = new MatMulKernel.BlockPrefetch((float*)(w0 + block * rowBytes), (int)(next * rowBytes / 64), sixes / 6);
            for (int t = 0; t < sixes; t += 6)
            {
                fetch.Next();
                for (int i = 0; i < block; i += 4)
                    MatMulKernel.Tile4x6Of512<F16RowLanes>(w0 + i * rowBytes, rowBytes, cols, x + (long)t * cols, cols,
                        y + (long)t * yStride + r + i, yStride, native: true);
            }
            if (sixes < tokens)
                for (int i = 0; i < block; i += 4)
                    MatMulKernel.Tile4xFewOf512<F16RowLanes>(tokens - sixes, w0 + i * rowBytes, rowBytes, cols, x + (long)sixes * cols, cols,
                        y + (long)sixes * yStride + r + i, yStride, native: true);
        }
        return r;
    }

    /// <summary>
    /// Rows per block: the block's halves are read from memory once and stay in L2 while every token tile of the chunk
    /// passes over them, and the chunk's activations are streamed from L3 once per block, so a larger block streams them
    /// less often. Measured on llama3-1b F16, prefill of 128, alternating builds (tokens/s): 8 rows (the fp32 tile's
    /// block) 52–61 at one thread and 96–104 at two; 64 rows 66–69 and 114–126; 128 rows 59–67 and 112–127.
    /// </summary>
    private const int PrefillBlockRows = 64;

    /// <summary>fp16 rows for the 512-bit tile: sixteen halves sign-extended, shifted and masked (<c>w · 2^-112</c>).</summary>
    private readonly struct F16RowLanes : IRowLanes
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int k) => F16Lanes16((ushort*)row + k);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int k) => F16Native.Load((ushort*)row + k);
    }
}
