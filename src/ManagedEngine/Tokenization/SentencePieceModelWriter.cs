using System.Buffers.Binary;
using System.Text;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>
/// Writes a <see cref="SentencePieceModelProto"/> as a SentencePiece <c>.model</c> file (protobuf
/// ModelProto) holding exactly the fields <see cref="SentencePieceModelProto.Parse"/> reads, so a
/// vocabulary that came from elsewhere (a GGUF file) can travel as the standard file, for example
/// beside an ONNX export. Field numbers are those listed on <see cref="SentencePieceModelProto"/>.
/// </summary>
internal static class SentencePieceModelWriter
{
    private const int Varint = 0, Fixed32 = 5, LengthDelimited = 2;

    public static byte[] Write(SentencePieceModelProto model)
    {
        if (model.PrecompiledCharsMapLength > 0)
            throw new NotSupportedException("A model with a precompiled normalization charsmap cannot be rewritten (the charsmap is not kept).");
        var output = new MemoryStream();
        var piece = new MemoryStream();
        Span<byte> score = stackalloc byte[4];
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            piece.SetLength(0);
            WriteBytes(piece, 1, model.Pieces[id]);
            WriteTag(piece, 2, Fixed32);
            BinaryPrimitives.WriteSingleLittleEndian(score, model.Scores[id]);
            piece.Write(score);
            WriteVarintField(piece, 3, (int)model.Types[id]);
            WriteBytes(output, 1, piece.ToArray());
        }

        var trainer = new MemoryStream();
        WriteVarintField(trainer, 3, model.ModelType);
        WriteVarintField(trainer, 24, model.TreatWhitespaceAsSuffix ? 1 : 0);
        WriteVarintField(trainer, 35, model.ByteFallback ? 1 : 0);
        WriteVarintField(trainer, 40, model.UnkId);
        WriteVarintField(trainer, 41, model.BosId);
        WriteVarintField(trainer, 42, model.EosId);
        WriteVarintField(trainer, 43, model.PadId);
        WriteBytes(trainer, 44, Encoding.UTF8.GetBytes(model.UnkSurface));
        WriteBytes(output, 2, trainer.ToArray());

        var normalizer = new MemoryStream();
        WriteBytes(normalizer, 1, Encoding.UTF8.GetBytes(model.NormalizerName));
        WriteVarintField(normalizer, 3, model.AddDummyPrefix ? 1 : 0);
        WriteVarintField(normalizer, 4, model.RemoveExtraWhitespaces ? 1 : 0);
        WriteVarintField(normalizer, 5, model.EscapeWhitespaces ? 1 : 0);
        WriteBytes(output, 3, normalizer.ToArray());
        return output.ToArray();
    }

    private static void WriteTag(Stream s, int field, int wire) => WriteVarint(s, (ulong)((field << 3) | wire));

    // int32 fields are encoded as protobuf does: negative values sign-extended to 64 bits (ten bytes).
    private static void WriteVarintField(Stream s, int field, int value)
    {
        WriteTag(s, field, Varint);
        WriteVarint(s, (ulong)(long)value);
    }

    private static void WriteBytes(Stream s, int field, byte[] bytes)
    {
        WriteTag(s, field, LengthDelimited);
        WriteVarint(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        s.WriteByte((byte)value);
    }
}
