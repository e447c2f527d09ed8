using System.Text;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>SentencePiece's ModelProto.SentencePiece.Type.</summary>
internal enum PieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>
/// The fields of a SentencePiece <c>ModelProto</c> that encoding and decoding depend on, read with
/// <see cref="ProtoWireReader"/>. Field numbers and defaults follow sentencepiece_model.proto
/// (ModelProto: pieces=1, trainer_spec=2, normalizer_spec=3; SentencePiece: piece=1, score=2,
/// type=3 default NORMAL; TrainerSpec: model_type=3 default UNIGRAM, treat_whitespace_as_suffix=24,
/// byte_fallback=35, unk_id=40, bos_id=41, eos_id=42, pad_id=43, unk_surface=44; NormalizerSpec:
/// name=1, precompiled_charsmap=2, add_dummy_prefix=3, remove_extra_whitespaces=4,
/// escape_whitespaces=5, all three default true). Unknown fields are skipped, as protobuf does.
/// </summary>
internal sealed class SentencePieceModelProto
{
    public const int ModelTypeUnigram = 1, ModelTypeBpe = 2;

    public List<byte[]> Pieces { get; } = new();
    public List<float> Scores { get; } = new();
    public List<PieceType> Types { get; } = new();

    public int ModelType { get; private set; } = ModelTypeUnigram;
    public bool TreatWhitespaceAsSuffix { get; private set; }
    public bool ByteFallback { get; private set; }
    public int UnkId { get; private set; }
    public int BosId { get; private set; } = 1;
    public int EosId { get; private set; } = 2;
    public int PadId { get; private set; } = -1;
    public string UnkSurface { get; private set; } = " \u2047 ";

    public string NormalizerName { get; private set; } = "";
    public int PrecompiledCharsMapLength { get; private set; }
    public bool AddDummyPrefix { get; private set; } = true;
    public bool RemoveExtraWhitespaces { get; private set; } = true;
    public bool EscapeWhitespaces { get; private set; } = true;

    public static SentencePieceModelProto Parse(ReadOnlySpan<byte> data, string file)
    {
        if (data.IsEmpty) throw new InvalidDataException($"'{file}' is not a valid SentencePiece model: the file is empty.");
        var model = new SentencePieceModelProto();
        var reader = new ProtoWireReader(data, file);
        while (reader.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1:
                    reader.Expect(wire, ProtoWireReader.LengthDelimited, "ModelProto.pieces");
                    var pieceReader = reader.ReadMessage();
                    model.ReadPiece(ref pieceReader);
                    break;
                case 2:
                    reader.Expect(wire, ProtoWireReader.LengthDelimited, "ModelProto.trainer_spec");
                    var trainer = reader.ReadMessage();
                    model.ReadTrainerSpec(ref trainer);
                    break;
                case 3:
                    reader.Expect(wire, ProtoWireReader.LengthDelimited, "ModelProto.normalizer_spec");
                    var normalizer = reader.ReadMessage();
                    model.ReadNormalizerSpec(ref normalizer);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        if (model.Pieces.Count == 0) throw reader.Error("it has no pieces");
        return model;
    }

    private void ReadPiece(ref ProtoWireReader reader)
    {
        int id = Pieces.Count;
        byte[]? piece = null;
        float score = 0;
        int type = (int)PieceType.Normal;
        while (reader.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1:
                    reader.Expect(wire, ProtoWireReader.LengthDelimited, "SentencePiece.piece");
                    piece = reader.ReadBytes().ToArray();
                    break;
                case 2:
                    reader.Expect(wire, ProtoWireReader.Fixed32, "SentencePiece.score");
                    score = reader.ReadFloat();
                    break;
                case 3:
                    reader.Expect(wire, ProtoWireReader.Varint, "SentencePiece.type");
                    type = reader.ReadInt32();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        if (piece is null || piece.Length == 0) throw reader.Error($"piece {id} is empty");
        if (!Enum.IsDefined((PieceType)type)) throw reader.Error($"piece {id} has unknown type {type}");
        if (float.IsNaN(score)) throw reader.Error($"piece {id} has a NaN score");
        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(piece);
        }
        catch (DecoderFallbackException)
        {
            throw reader.Error($"piece {id} is not valid UTF-8");
        }
        Pieces.Add(piece);
        Scores.Add(score);
        Types.Add((PieceType)type);
    }

    private void ReadTrainerSpec(ref ProtoWireReader reader)
    {
        while (reader.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 3: reader.Expect(wire, ProtoWireReader.Varint, "TrainerSpec.model_type"); ModelType = reader.ReadInt32(); break;
                case 24: reader.Expect(wire, ProtoWireReader.Varint, "TrainerSpec.treat_whitespace_as_suffix"); TreatWhitespaceAsSuffix = reader.ReadBool(); break;
                case 35: reader.Expect(wire, ProtoWireReader.Varint, "TrainerSpec.byte_fallback"); ByteFallback = reader.ReadBool(); break;
                case 40: reader.Expect(wire, ProtoWireReader.Varint, "TrainerSpec.unk_id"); UnkId = reader.ReadInt32(); break;
                case 41: reader.Expect(wire, ProtoWireReader.Varint, "TrainerSpec.bos_id"); BosId = reader.ReadInt32(); break;
                case 42: reader.Expect(wire, ProtoWireReader.Varint, "TrainerSpec.eos_id"); EosId = reader.ReadInt32(); break;
                case 43: reader.Expect(wire, ProtoWireReader.Varint, "TrainerSpec.pad_id"); PadId = reader.ReadInt32(); break;
                case 44:
                    reader.Expect(wire, ProtoWireReader.LengthDelimited, "TrainerSpec.unk_surface");
                    UnkSurface = Encoding.UTF8.GetString(reader.ReadBytes());
                    break;
                default: reader.Skip(wire); break;
            }
        }
    }

    private void ReadNormalizerSpec(ref ProtoWireReader reader)
    {
        while (reader.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1:
                    reader.Expect(wire, ProtoWireReader.LengthDelimited, "NormalizerSpec.name");
                    NormalizerName = Encoding.UTF8.GetString(reader.ReadBytes());
                    break;
                case 2:
                    reader.Expect(wire, ProtoWireReader.LengthDelimited, "NormalizerSpec.precompiled_charsmap");
                    PrecompiledCharsMapLength = reader.ReadBytes().Length;
                    break;
                case 3: reader.Expect(wire, ProtoWireReader.Varint, "NormalizerSpec.add_dummy_prefix"); AddDummyPrefix = reader.ReadBool(); break;
                case 4: reader.Expect(wire, ProtoWireReader.Varint, "NormalizerSpec.remove_extra_whitespaces"); RemoveExtraWhitespaces = reader.ReadBool(); break;
                case 5: reader.Expect(wire, ProtoWireReader.Varint, "NormalizerSpec.escape_whitespaces"); EscapeWhitespaces = reader.ReadBool(); break;
                default: reader.Skip(wire); break;
            }
        }
    }

    /// <summary>
    /// A BPE model from a vocabulary kept outside a ModelProto (GGUF's <c>tokenizer.ggml.*</c> arrays),
    /// with the normalizer sentencepiece's Llama models use: identity rule, spaces escaped as '▁',
    /// extra whitespace kept, and a dummy prefix as <paramref name="addDummyPrefix"/> says. Pieces are
    /// validated as <see cref="Parse"/> validates them; <paramref name="source"/> names them in errors.
    /// </summary>
    internal static SentencePieceModelProto FromVocabulary(string source, IReadOnlyList<string> pieces, IReadOnlyList<float> scores,
        IReadOnlyList<int> types, int unkId, int bosId, int eosId, int padId, bool addDummyPrefix, bool byteFallback)
    {
        if (pieces.Count == 0) throw new InvalidDataException($"{source}: the vocabulary has no pieces.");
        if (scores.Count != pieces.Count || types.Count != pieces.Count)
            throw new InvalidDataException($"{source}: {pieces.Count} pieces but {scores.Count} scores and {types.Count} types; they must be equal.");
        var model = new SentencePieceModelProto
        {
            ModelType = ModelTypeBpe, ByteFallback = byteFallback, UnkId = unkId, BosId = bosId, EosId = eosId, PadId = padId,
            NormalizerName = "identity", AddDummyPrefix = addDummyPrefix, RemoveExtraWhitespaces = false, EscapeWhitespaces = true,
        };
        for (int id = 0; id < pieces.Count; id++)
        {
            if (pieces[id].Length == 0) throw new InvalidDataException($"{source}: piece {id} is empty.");
            if (!Enum.IsDefined((PieceType)types[id])) throw new InvalidDataException($"{source}: piece {id} '{pieces[id]}' has unknown type {types[id]}; expected 1 to 6.");
            if (float.IsNaN(scores[id])) throw new InvalidDataException($"{source}: piece {id} '{pieces[id]}' has a NaN score.");
            model.Pieces.Add(Encoding.UTF8.GetBytes(pieces[id]));
            model.Scores.Add(scores[id]);
            model.Types.Add((PieceType)types[id]);
        }
        return model;
    }
}
