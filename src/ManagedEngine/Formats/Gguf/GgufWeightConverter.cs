using System.Runtime.CompilerServices;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// Turns a GGUF tensor into the fp32 the forward pass reads: F32 data is used in place (a view into
/// the mapping), F16 and BF16 are widened exactly, Q8_0 is dequantised (d × q, as ggml's
/// <c>dequantize_row_q8_0</c>) into buffers owned by a <see cref="WeightMemory"/>.
/// </summary>
internal sealed unsafe class GgufWeightConverter(GgufFile file, WeightMemory memory)
{
    /// <summary>True once some tensor is a view into the mapping, which must then stay open.</summary>
    public bool UsesMapping { get; private set; }

    public WeightTensor ToFloat32(GgufTensorInfo tensor)
    {
        byte* source = file.DataPointer(tensor);
        int n = checked((int)tensor.ElementCount);
        if (tensor.Type == GgufTensorType.F32 && ((nint)source & (sizeof(float) - 1)) == 0)
        {
            UsesMapping = true;
            return new WeightTensor((float*)source, n);
        }

        WeightTensor result = memory.Allocate(n);
        var destination = new Span<float>(result.Pointer, n);
        switch (tensor.Type)
        {
            case GgufTensorType.F32:
                // Only with general.alignment below 4, where a float may straddle its natural boundary.
                new ReadOnlySpan<byte>(source, n * sizeof(float)).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination));
                break;
            case GgufTensorType.F16:
                HalfPrecision.WidenF16(new ReadOnlySpan<ushort>(source, n), destination);
                break;
            case GgufTensorType.BF16:
                HalfPrecision.WidenBf16(new ReadOnlySpan<ushort>(source, n), destination);
                break;
            case GgufTensorType.Q8_0:
                DequantizeQ8_0(source, destination);
                break;
            default:
                if (WeightStorage.WeightFormats.FromGguf(tensor.Type) is not { } format)
                    throw new NotSupportedException($"{file.Path}: tensor '{tensor.Name}' is stored as {tensor.Type}, which cannot be converted to fp32.");
                int cols = checked((int)tensor.Dimensions[0]);
                long rowBytes = WeightStorage.WeightFormats.RowBytes(format, cols);
                for (int r = 0; r < n / cols; r++)
                    WeightStorage.BlockDequantizer.Row(format, source + r * rowBytes, cols, destination.Slice(r * cols, cols));
                break;
        }
        return result;
    }

    /// <summary>Each 34-byte block: an fp16 scale d, then 32 int8 q; element j is d × q[j] in fp32.</summary>
    private static void DequantizeQ8_0(byte* source, Span<float> destination)
    {
        const int block = GgufTensorTypes.Q8BlockSize;
        for (int b = 0; b < destination.Length / block; b++)
        {
            byte* blockStart = source + (long)b * GgufTensorTypes.Q8BlockBytes;
            float d = (float)BitConverter.UInt16BitsToHalf(Unsafe.ReadUnaligned<ushort>(blockStart));
            sbyte* q = (sbyte*)(blockStart + 2);
            Span<float> values = destination.Slice(b * block, block);
            for (int j = 0; j < block; j++)
                values[j] = d * q[j];
        }
    }
}
