using System.Text;
using System.Text.Json;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>
/// The models that Data/sentencepiece_vectors.json was made from: the shared files, and tok512.model
/// patched (exactly as Data/generate_sentencepiece_vectors.py patches it) to settings the shipped files
/// do not use, so sentencepiece itself vouches for those paths too.
/// </summary>
internal static class SentencePieceVariants
{
    public static string VectorsPath => Path.Combine(TestPaths.RepoRoot, "tests", "ManagedEngine.Tests", "Tokenization", "Data", "sentencepiece_vectors.json");

    private static readonly Lazy<JsonDocument> Vectors = new(() => JsonDocument.Parse(File.ReadAllText(VectorsPath)));

    public static IEnumerable<string> Names => Vectors.Value.RootElement.GetProperty("encode").EnumerateObject().Select(p => p.Name);

    public static IEnumerable<(string Text, int[] Ids)> EncodeCases(string name) =>
        Vectors.Value.RootElement.GetProperty("encode").GetProperty(name).EnumerateArray()
            .Select(e => (e.GetProperty("text").GetString()!, e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray()));

    public static IEnumerable<(int[] Ids, string Text)> DecodeCases(string name) =>
        Vectors.Value.RootElement.GetProperty("decode").GetProperty(name).EnumerateArray()
            .Select(e => (e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(), e.GetProperty("text").GetString()!));

    public static byte[] Bytes(string name)
    {
        byte[] tok512 = File.ReadAllBytes(TestPaths.Tok512Model);
        return name switch
        {
            "tok512" => tok512,
            "llama2" => File.ReadAllBytes(TestPaths.Llama2TokenizerModel),
            "tok512-no-byte-fallback" => ByteFallbackOff(tok512),
            "tok512-no-dummy-prefix" => WithNormalizerFields(tok512, [0x18, 0x00]),
            "tok512-keep-whitespace" => WithNormalizerFields(tok512, [0x20, 0x00]),
            "tok512-no-escape" => WithNormalizerFields(tok512, [0x28, 0x00]),
            "tok512-unused" => RetypePieces(tok512, ["he", "\u2581the", "in", "\u2581was"], 5),
            "tok512-user-defined" => RetypePieces(tok512, ["ing", "\u2581Lily", "he"], 4),
            _ => throw new ArgumentException(name),
        };
    }

    public static SentencePieceModelTokenizer Load(string name) => SentencePieceModelTokenizer.FromBytes(Bytes(name), name);

    /// <summary>byte_fallback = false, and the byte pieces become UNUSED (sentencepiece refuses BYTE pieces without byte fallback).</summary>
    public static byte[] ByteFallbackOff(byte[] data)
    {
        data = (byte[])data.Clone();
        int tag = IndexOf(data, [0x98, 0x02, 0x01]);
        data[tag + 2] = 0;
        for (int b = 0; b < 256; b++)
        {
            int at = IndexOf(data, [0x0A, 0x06, .. Encoding.ASCII.GetBytes($"<0x{b:X2}>"), 0x15]);
            if (data[at + 13] != 0x18 || data[at + 14] != 0x06) throw new InvalidDataException("unexpected byte piece layout");
            data[at + 14] = 5;
        }
        return data;
    }

    /// <summary>tok512.model ends with its NormalizerSpec (name "identity", empty charsmap); append fields to it.</summary>
    public static byte[] WithNormalizerFields(byte[] data, byte[] extra)
    {
        byte[] spec = [0x1A, 0x0C, 0x0A, 0x08, .. "identity"u8, 0x12, 0x00];
        if (!data.AsSpan().EndsWith(spec)) throw new InvalidDataException("unexpected tok512.model ending");
        return [.. data[..^spec.Length], 0x1A, (byte)(0x0C + extra.Length), .. spec[2..], .. extra];
    }

    /// <summary>Re-emits the pieces named as (piece, score, type = <paramref name="type"/>); the rest verbatim.</summary>
    public static byte[] RetypePieces(byte[] data, string[] pieces, int type)
    {
        var output = new ProtoBuilder();
        int pos = 0;
        while (pos < data.Length)
        {
            int start = pos;
            ulong tag = ReadVarint(data, ref pos);
            int length = (int)ReadVarint(data, ref pos);
            var body = data.AsSpan(pos, length);
            pos += length;
            if (tag >> 3 == 1)
            {
                int p = 1;
                int n = (int)ReadVarint(data.AsSpan(pos - length, length).ToArray(), ref p);
                string piece = Encoding.UTF8.GetString(body.Slice(p, n));
                if (pieces.Contains(piece))
                {
                    float score = BitConverter.ToSingle(body.Slice(p + n + 1, 4));
                    output.Message(1, ProtoBuilder.Piece(piece, score, type));
                    continue;
                }
            }
            output.Raw(data[start..pos]);
        }
        return output.ToArray();
    }

    private static ulong ReadVarint(byte[] data, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
    }

    public static int IndexOf(byte[] data, byte[] pattern)
    {
        int at = data.AsSpan().IndexOf(pattern);
        if (at < 0) throw new InvalidDataException("pattern not found");
        return at;
    }
}
