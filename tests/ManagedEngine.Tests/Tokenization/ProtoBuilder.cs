using System.Text;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>Writes protobuf wire format for synthetic SentencePiece models.</summary>
internal sealed class ProtoBuilder
{
    private readonly List<byte> _bytes = new();

    public byte[] ToArray() => _bytes.ToArray();

    public ProtoBuilder Varint(ulong value)
    {
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            _bytes.Add(value != 0 ? (byte)(b | 0x80) : b);
        } while (value != 0);
        return this;
    }

    public ProtoBuilder Tag(int field, int wire) => Varint((ulong)((field << 3) | wire));

    public ProtoBuilder Int(int field, long value) => Tag(field, 0).Varint(unchecked((ulong)value));

    public ProtoBuilder Float(int field, float value)
    {
        Tag(field, 5);
        _bytes.AddRange(BitConverter.GetBytes(value));
        return this;
    }

    public ProtoBuilder Bytes(int field, byte[] value)
    {
        Tag(field, 2).Varint((ulong)value.Length);
        _bytes.AddRange(value);
        return this;
    }

    public ProtoBuilder String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtoBuilder Message(int field, ProtoBuilder message) => Bytes(field, message.ToArray());

    public ProtoBuilder Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public static ProtoBuilder Piece(string piece, float score, int type = 1) =>
        new ProtoBuilder().String(1, piece).Float(2, score).Int(3, type);

    /// <summary>A small valid BPE model: unk, BOS, EOS, 256 byte pieces, then <paramref name="pieces"/>.</summary>
    public static ProtoBuilder Model(IEnumerable<(string Piece, float Score)> pieces, Action<ProtoBuilder>? trainer = null,
        Action<ProtoBuilder>? normalizer = null, bool byteFallback = true)
    {
        var model = new ProtoBuilder();
        model.Message(1, Piece("<unk>", 0, 2)).Message(1, Piece("<s>", 0, 3)).Message(1, Piece("</s>", 0, 3));
        if (byteFallback)
            for (int b = 0; b < 256; b++) model.Message(1, Piece($"<0x{b:X2}>", 0, 6));
        foreach (var (piece, score) in pieces) model.Message(1, Piece(piece, score));
        var trainerSpec = new ProtoBuilder().Int(3, 2).Int(35, byteFallback ? 1 : 0);
        trainer?.Invoke(trainerSpec);
        model.Message(2, trainerSpec);
        var normalizerSpec = new ProtoBuilder().String(1, "identity");
        normalizer?.Invoke(normalizerSpec);
        model.Message(3, normalizerSpec);
        return model;
    }
}
