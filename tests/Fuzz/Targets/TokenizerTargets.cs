using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Fuzz.Targets;

/// <summary>A SentencePiece <c>tokenizer.model</c> (a protobuf ModelProto), loaded and used as <c>mlpipe tokenize</c> does.</summary>
public sealed class SentencePieceTarget : FuzzTarget
{
    public override int CiInputs => 1000;

    public override string Name => "sentencepiece";
    public override string EntryPoint => "TokenizerLoader.Load(path) + Encode/Decode";

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
        [seeds.ModelBytes("stories260K/tok512.model"), seeds.ModelBytes("llama2-tokenizer/tokenizer.model")];

    /// <summary>A length-delimited field's length (a varint) re-encoded with a boundary value: the protobuf counterpart of a length field.</summary>
    public override byte[]? EditFormat(byte[] input, Random random)
    {
        var lengths = ProtobufLengths.Find(input);
        if (lengths.Count == 0) return null;
        var (offset, width) = lengths[random.Next(lengths.Count)];
        ulong old = ProtobufLengths.ReadVarint(input, offset, out _);
        ulong value = random.Next(3) switch { 0 => old + 1, 1 => old - 1, _ => ProtobufLengths.Boundary(random) };
        byte[] varint = ProtobufLengths.Varint(value);
        return [.. input.AsSpan(0, offset), .. varint, .. input.AsSpan(offset + width)];
    }

    public override void Run(byte[] input, ScratchDirectory scratch) => TokenizerRoundTrip.Run(scratch.Write("tokenizer.model", input));
}

/// <summary>A llama2.c <c>tokenizer.bin</c> (int32 max_token_length, then score, length, bytes records).</summary>
public sealed class Llama2cTokenizerTarget : FuzzTarget
{
    public override string Name => "tokenizer-bin";
    public override string EntryPoint => "TokenizerLoader.Load(path) + Encode/Decode";

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
        [seeds.ModelBytes("stories260K/tok512.bin"), seeds.ModelBytes("llama2-tokenizer/tokenizer.bin")];

    public override IReadOnlyList<BinaryField> Fields(byte[] seed)
    {
        var fields = new List<BinaryField> { new(0, 4, "max_token_length") };
        for (long o = 4; o + 8 <= seed.Length && fields.Count < 40_000;)
        {
            fields.Add(new((int)o + 4, 4, "token length"));
            o += 8 + BitConverter.ToInt32(seed, (int)o + 4);
        }
        return fields;
    }

    public override void Run(byte[] input, ScratchDirectory scratch) => TokenizerRoundTrip.Run(scratch.Write("tokenizer.bin", input));
}

/// <summary>A Hugging Face <c>tokenizer.json</c>.</summary>
public sealed class TokenizerJsonTarget : FuzzTarget
{
    public override string Name => "tokenizer-json";
    public override string EntryPoint => "TokenizerLoader.Load(path) + Encode/Decode";
    public override bool IsJson => true;

    // Llama 3's 9 MB tokenizer.json is left out of the seeds: at about a second per load it would take the whole run.
    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) => [seeds.Tok512TokenizerJson, SeedFiles.ByteLevelTokenizerJson];

    public override void Run(byte[] input, ScratchDirectory scratch) => TokenizerRoundTrip.Run(scratch.Write("tokenizer.json", input));
}

/// <summary>What a user does with a loaded tokenizer: encode a text with special tokens and decode it back.</summary>
internal static class TokenizerRoundTrip
{
    public static void Run(string path)
    {
        var tokenizer = TokenizerLoader.Load(path);
        int[] ids = tokenizer.Encode("Once upon a time, <s> a 🦙 said \"héllo\"\n\t 12345", addBos: true, addEos: true);
        tokenizer.Decode(ids);
    }
}

/// <summary>The length varints of a protobuf message's length-delimited fields, nested messages included (leniently: the walk stops at the first oddity).</summary>
internal static class ProtobufLengths
{
    private static readonly ulong[] Boundaries = [0, 1, 2, 127, 128, 16383, 16384, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF, ulong.MaxValue];

    public static ulong Boundary(Random random) => Boundaries[random.Next(Boundaries.Length)];

    public static List<(int Offset, int Width)> Find(byte[] message)
    {
        var found = new List<(int, int)>();
        Walk(message, 0, message.Length, found, depth: 0);
        return found;
    }

    private static void Walk(byte[] m, int start, int end, List<(int, int)> found, int depth)
    {
        for (int o = start; o < end && found.Count < 50_000;)
        {
            ulong tag = ReadVarint(m, o, out int tagWidth);
            if (tagWidth == 0) return;
            o += tagWidth;
            switch ((int)(tag & 7))
            {
                case 0: { ReadVarint(m, o, out int w); if (w == 0) return; o += w; break; }
                case 1: o += 8; break;
                case 5: o += 4; break;
                case 2:
                    {
                        ulong length = ReadVarint(m, o, out int w);
                        if (w == 0 || length > (ulong)(end - o - w)) return;
                        found.Add((o, w));
                        o += w;
                        // Only some length-delimited fields are messages; walking into a string or bytes field just stops early.
                        if (depth < 3) Walk(m, o, o + (int)length, found, depth + 1);
                        o += (int)length;
                        break;
                    }
                default: return;
            }
        }
    }

    /// <summary>The varint at <paramref name="offset"/> and its width (0: not a varint).</summary>
    public static ulong ReadVarint(byte[] m, int offset, out int width)
    {
        ulong value = 0;
        for (int i = 0; i < 10 && offset + i < m.Length; i++)
        {
            value |= (ulong)(m[offset + i] & 0x7F) << (7 * i);
            if (m[offset + i] < 0x80) { width = i + 1; return value; }
        }
        width = 0;
        return 0;
    }

    public static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value != 0 ? (byte)(b | 0x80) : b);
        } while (value != 0);
        return [.. bytes];
    }
}
