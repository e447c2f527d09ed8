using System.Runtime.Intrinsics;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// One ggml block format, seen the way the kernels consume it: a block is cut into groups of 32 values (one 256-bit
/// vector of bytes), and each half-group of 16 values has a multiplier and an offset, so that
/// <c>weight = mul · q + add</c>. A dot product with int8 activations is then, per half-group, an exact integer sum
/// <c>Σ q·x</c> scaled by <c>mul · activation scale</c>, plus <c>add · activation sum</c>.
/// </summary>
/// <remarks>
/// Implementations are structs used as generic arguments, so the JIT compiles one kernel per format with the block
/// decoding inlined. Q8_0 keeps its values signed (exact integer products, as ggml computes them, no offset term); the
/// others give unsigned values (0..63): Q4_0's and Q5_0's stored codes with their <see cref="Bias"/> (8, 16) subtracted
/// in the integer sums, the offsets of the rest carried by <c>add</c> as ggml's own kernels do (Q6_K's −32, the
/// minimums of Q4_1/Q5_1/Q4_K/Q5_K).
/// </remarks>
internal unsafe interface IBlockFormat
{
    /// <summary>The format.</summary>
    static abstract WeightFormat Format { get; }

    /// <summary>Values per block (32, or 256 for the k-quants).</summary>
    static abstract int BlockElements { get; }

    /// <summary>Bytes per block.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>True when ggml pairs this format with Q8_K activations (one scale per 256 values).</summary>
    static abstract bool SuperBlockActivations { get; }

    /// <summary>True when <see cref="Group"/> gives unsigned values (0..63); false for signed ones (−128..127).</summary>
    static abstract bool Unsigned { get; }

    /// <summary>
    /// For Q4_0 and Q5_0, the bias b of <c>weight = d · (q − b)</c> (8, 16); 0 for the rest. The kernels take the
    /// unsigned codes q and subtract <c>b · Σx</c> exactly, in the integer sums, by starting each block's sum (its first
    /// lane) at the activations' precomputed <c>−b · Σx</c> (<see cref="QuantizedActivations.Corrections"/>).
    /// </summary>
    static abstract int Bias { get; }

    /// <summary>True when some <c>add</c> may be non-zero.</summary>
    static abstract bool HasOffsets { get; }

    /// <summary>
    /// For 32-value formats: where the fp16 scale d (and, with offsets, the fp16 minimum m) sit in a block, so kernels can
    /// convert eight blocks' scales at once (mul = d, add = m for both halves). −1 where there is none.
    /// </summary>
    static abstract int ScaleOffset { get; }

    /// <inheritdoc cref="ScaleOffset"/>
    static abstract int MinOffset { get; }

    /// <summary>The multiplier and offset of each 16-value half-group of the block (<c>BlockElements / 16</c> of each).</summary>
    static abstract void Scales(byte* block, float* mul, float* add);

    /// <summary>The 32 values of group <paramref name="g"/> (block elements 32g … 32g+31), in order.</summary>
    static abstract Vector256<byte> Group(byte* block, int g);
}

/// <summary>
/// A k-quant (super-blocks of 256 values with small integer scales), seen the way the integer kernels consume it: per
/// super-block an fp32 multiplier <c>d</c> with an integer scale per half-group of 16 values, and an fp32 multiplier
/// <c>dmin</c> with an integer minimum per half-group, so that <c>weight = d · scale · q − dmin · min</c>. A dot product
/// with Q8_K activations (scale s, values x, half-group sums Σx) is then
/// <c>s · (d · Σ scale · Σ q·x − dmin · Σ min · Σx)</c>, both sums exact in int32: the kernels convert once per
/// super-block, as ggml's own kernels do.
/// </summary>
internal unsafe interface IKQuantFormat : IBlockFormat
{
    /// <summary>
    /// True when <c>dmin = d</c> (Q6_K: its −32 offset is <c>min = 32 · scale</c>), so the kernels subtract the minimums'
    /// sum from the integer sum before converting.
    /// </summary>
    static abstract bool MinimumsInScaleUnits { get; }

    /// <summary>
    /// Writes the sixteen half-group scales and minimums as int16 (Q4_K's and Q5_K's repeated for both halves of a group),
    /// returns <c>d</c> and gives <c>dmin</c> in <paramref name="dmin"/>.
    /// </summary>
    static abstract float IntegerScales(byte* block, short* scales, short* mins, out float dmin);

    /// <summary>
    /// A whole super-block against 256 Q8_K activation values <paramref name="x"/>, on x86 (AVX2): every group's integer
    /// products, each quad scaled by its half-group's integer scale, summed exactly into eight int32 lanes (lane i takes
    /// values 4i..4i+3 of every group, as the group-by-group kernels sum them, so the lanes are the same); and the
    /// sixteen half-group minimums as int16, laid out as <see cref="IntegerScales"/> writes them. Unrolled, with the
    /// scales kept in registers: this is the decode kernel's whole inner loop.
    /// </summary>
    static abstract Vector256<int> ScaledSums(byte* block, sbyte* x, out Vector256<short> minimums);

    /// <summary><c>d</c> of the super-block (returned) and <c>dmin</c>, read through <see cref="Fp16.Table"/>.</summary>
    static abstract float Multipliers(byte* block, float* halves, out float dmin);
}
