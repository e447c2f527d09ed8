using System.Buffers.Binary;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>
/// A minimal, bounds-checked protobuf wire-format reader: just enough to walk a SentencePiece
/// ModelProto without a protobuf dependency. Every length is checked against the bytes that remain
/// before anything is sliced, so a corrupt file fails with <see cref="InvalidDataException"/>.
/// </summary>
internal ref struct ProtoWireReader
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    private readonly ReadOnlySpan<byte> _data;
    private readonly string _file;
    private readonly int _baseOffset;
    private int _pos;

    public ProtoWireReader(ReadOnlySpan<byte> data, string file, int baseOffset = 0)
    {
        _data = data;
        _file = file;
        _baseOffset = baseOffset;
    }

    public readonly bool AtEnd => _pos >= _data.Length;

    /// <summary>Absolute offset in the file of the next byte, for error messages and nested readers.</summary>
    public readonly int Offset => _baseOffset + _pos;

    /// <summary>Reads a field tag; returns false at the end of the message.</summary>
    public bool TryReadTag(out int field, out int wireType)
    {
        field = wireType = 0;
        if (AtEnd) return false;
        int at = Offset;
        ulong tag = ReadVarint();
        wireType = (int)(tag & 7);
        ulong number = tag >> 3;
        if (number == 0 || number > 536_870_911)
            throw Error($"invalid field number {number} at offset {at}");
        field = (int)number;
        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= _data.Length) throw Error($"truncated varint at offset {Offset}");
            byte b = _data[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw Error($"varint longer than 10 bytes at offset {Offset}");
    }

    /// <summary>An int32 field: protobuf encodes negative values as 10-byte varints, truncation is intended.</summary>
    public int ReadInt32() => unchecked((int)ReadVarint());

    public bool ReadBool() => ReadVarint() != 0;

    public float ReadFloat()
    {
        if (_data.Length - _pos < 4) throw Error($"truncated float at offset {Offset}");
        float value = BinaryPrimitives.ReadSingleLittleEndian(_data.Slice(_pos, 4));
        _pos += 4;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        int at = Offset;
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _pos))
            throw Error($"length {length} at offset {at} runs past the end of its message ({_data.Length - _pos} bytes left)");
        var slice = _data.Slice(_pos, (int)length);
        _pos += (int)length;
        return slice;
    }

    /// <summary>A reader over an embedded message, keeping absolute offsets for error messages.</summary>
    public ProtoWireReader ReadMessage()
    {
        var bytes = ReadBytes();
        return new ProtoWireReader(bytes, _file, Offset - bytes.Length);
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Advance(8); break;
            case LengthDelimited: ReadBytes(); break;
            case Fixed32: Advance(4); break;
            default: throw Error($"unsupported wire type {wireType} at offset {Offset}");
        }
    }

    /// <summary>Checks that a field arrived with the wire type its schema declares.</summary>
    public readonly void Expect(int wireType, int expected, string fieldName)
    {
        if (wireType != expected)
            throw Error($"field {fieldName} has wire type {wireType}, expected {expected} (offset {Offset})");
    }

    private void Advance(int count)
    {
        if (_data.Length - _pos < count) throw Error($"truncated fixed-size field at offset {Offset}");
        _pos += count;
    }

    public readonly InvalidDataException Error(string what) =>
        new($"'{_file}' is not a valid SentencePiece model: {what}.");
}
