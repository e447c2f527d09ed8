using System.Buffers.Binary;
using System.Text;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// A cursor over the mapped bytes of a GGUF file that never reads past the end: every read checks
/// the bytes left first, and every length or count is compared with them before anything is
/// allocated, so a hostile header costs at most the file's own size. Failures are
/// <see cref="InvalidDataException"/>s naming the file, the field and the byte offset.
/// </summary>
internal sealed unsafe class GgufHeaderReader(byte* data, long length, string path)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public string Path { get; } = path;

    public long Length { get; } = length;

    public long Position { get; private set; }

    public long Remaining => Length - Position;

    /// <summary>Takes <paramref name="count"/> bytes (at most int.MaxValue) or fails naming <paramref name="what"/>.</summary>
    public ReadOnlySpan<byte> Take(long count, string what)
    {
        if (count > Remaining)
            throw Error($"{what} needs {count} bytes at byte {Position}, but the file ends {Remaining} bytes later (it is {Length} bytes long)");
        var span = new ReadOnlySpan<byte>(data + Position, checked((int)count));
        Position += count;
        return span;
    }

    public byte U8(string what) => Take(1, what)[0];
    public ushort U16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));
    public uint U32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
    public ulong U64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));
    public float F32(string what) => BinaryPrimitives.ReadSingleLittleEndian(Take(4, what));
    public double F64(string what) => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what));

    /// <summary>A GGUF bool: one byte that must be 0 or 1.</summary>
    public bool Bool(string what)
    {
        long at = Position;
        byte b = U8(what);
        return b <= 1 ? b == 1 : throw Error($"{what} at byte {at} is a bool stored as {b}; expected 0 or 1");
    }

    /// <summary>A GGUF string: uint64 byte length, then that many bytes of UTF-8 (no terminator).</summary>
    public string String(string what, int maxBytes)
    {
        long at = Position;
        ulong length = U64(what + " length");
        if (length > (ulong)Remaining)
            throw Error($"{what} at byte {at} has length {length} bytes, but only {Remaining} bytes remain in the file");
        if (length > (ulong)maxBytes)
            throw Error($"{what} at byte {at} has length {length} bytes; at most {maxBytes} are allowed");
        ReadOnlySpan<byte> bytes = Take((long)length, what);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Error($"{what} at byte {at} is not valid UTF-8");
        }
    }

    /// <summary>
    /// Checks that <paramref name="count"/> items of at least <paramref name="minBytesEach"/> bytes can
    /// fit in what is left of the file, before anything sized by the count is allocated.
    /// </summary>
    public int CheckCount(ulong count, int minBytesEach, string what, long at)
    {
        ulong fits = (ulong)Remaining / (ulong)minBytesEach;
        if (count > fits)
            throw Error($"{what} at byte {at} is {count}, but the {Remaining} bytes left in the file hold at most {fits} " +
                $"(each takes at least {minBytesEach} bytes)");
        if (count > (ulong)Array.MaxLength)
            throw Error($"{what} at byte {at} is {count}; at most {Array.MaxLength} are supported");
        return (int)count;
    }

    public InvalidDataException Error(string message) => new($"{Path}: {message}");
}
