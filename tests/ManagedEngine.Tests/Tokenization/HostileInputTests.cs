using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>Corrupt tokenizer files fail with InvalidDataException naming the file and the problem.</summary>
public class HostileInputTests
{
    private static readonly (string, float)[] SomePieces = [("▁", -1), ("a", -2), ("b", -3), ("▁a", -4), ("ab", -5)];

    private static byte[] ValidBin() =>
        TokenizerFileWriter.TokenizerBin(TokenizerFileWriter.WithSpecials([(" ", -1), ("a", -2), ("b", -3), (" a", -4), ("ab", -5)]));

    private static byte[] Patched(byte[] data, int offset, int value)
    {
        data = (byte[])data.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(offset), value);
        return data;
    }

    /// <summary>Writes <paramref name="data"/> to a file and checks which error Load gives.</summary>
    private static void AssertBinRejected(byte[] data, string expected, int? vocab = null)
    {
        using var dir = new TempDir();
        string path = dir.File("bad-tokenizer.bin");
        File.WriteAllBytes(path, data);
        var error = Assert.Throws<InvalidDataException>(() => Llama2cTokenizer.Load(path, vocab));
        Assert.Contains(path, error.Message);
        Assert.Contains(expected, error.Message);
        var viaLoader = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path, vocab));
        Assert.Contains(path, viaLoader.Message);
    }

    private static void AssertModelRejected(byte[] data, string expected)
    {
        using var dir = new TempDir();
        string path = dir.File("bad-tokenizer.model");
        File.WriteAllBytes(path, data);
        var error = Assert.Throws<InvalidDataException>(() => SentencePieceModelTokenizer.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains(expected, error.Message);
        var viaLoader = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));
        Assert.Contains(path, viaLoader.Message);
    }

    [Fact]
    public void Synthetic_files_are_valid_to_start_with()
    {
        var bin = Llama2cTokenizer.FromBytes(ValidBin(), "synthetic");
        Assert.Equal(264, bin.VocabularySize);
        Assert.Equal([1, 262, 261], bin.Encode("ab", true, false)); // " a" (-4) beats "ab" (-5)
        var model = SentencePieceModelTokenizer.FromBytes(ProtoBuilder.Model(SomePieces).ToArray(), "synthetic");
        Assert.Equal(264, model.VocabularySize);
        Assert.Equal([262, 261], model.Encode("ab", false, false));
    }

    [Fact]
    public void Bin_empty() => AssertBinRejected([], "empty");

    [Fact]
    public void Bin_too_short_for_header() => AssertBinRejected([7, 0], "too short");

    [Fact]
    public void Bin_negative_max_token_length() => AssertBinRejected(Patched(ValidBin(), 0, -5), "max_token_length is -5");

    [Fact]
    public void Bin_absurd_max_token_length() => AssertBinRejected(Patched(ValidBin(), 0, int.MaxValue), "max_token_length is 2147483647");

    [Fact]
    public void Bin_truncated_record() => AssertBinRejected(ValidBin()[..^2][..^(1 + 4)], "truncated");

    [Fact]
    public void Bin_negative_length() => AssertBinRejected(Patched(ValidBin(), 4 + 4, -1), "negative length");

    [Fact]
    public void Bin_length_above_max_token_length() => AssertBinRejected(Patched(ValidBin(), 4 + 4, 100), "more than max_token_length");

    [Fact]
    public void Bin_length_past_end_of_file()
    {
        byte[] data = Patched(ValidBin(), 0, 60_000);
        int last = data.Length - 2 - 8; // the last record, piece "ab"
        AssertBinRejected(Patched(data, last + 4, 50_000), "past the end of the file");
    }

    [Fact]
    public void Bin_nan_score()
    {
        byte[] data = ValidBin();
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), float.NaN);
        AssertBinRejected(data, "NaN");
    }

    [Fact]
    public void Bin_too_few_tokens() =>
        AssertBinRejected(TokenizerFileWriter.TokenizerBin([("<unk>"u8.ToArray(), 0f), ("a"u8.ToArray(), 0f)]), "at least 259");

    [Fact]
    public void Bin_wrong_vocab_size() => AssertBinRejected(ValidBin(), "vocabulary has 32000", vocab: 32000);

    [Fact]
    public void Bin_every_truncation_of_a_real_file_fails_cleanly_or_loads()
    {
        byte[] data = File.ReadAllBytes(TestPaths.Tok512Bin);
        for (int length = 0; length < data.Length; length++)
        {
            try { Llama2cTokenizer.FromBytes(data.AsSpan(0, length), "cut"); }
            catch (InvalidDataException) { }
        }
    }

    [Fact]
    public void Model_empty() => AssertModelRejected([], "empty");

    [Fact]
    public void Model_length_past_end()
    {
        // Field 1 claims a 1 GB piece message.
        AssertModelRejected(new ProtoBuilder().Tag(1, 2).Varint(1_000_000_000).Raw(1, 2, 3).ToArray(), "runs past the end");
    }

    [Fact]
    public void Model_truncated() =>
        AssertModelRejected(ProtoBuilder.Model(SomePieces).ToArray()[..^5], "past the end");

    [Fact]
    public void Model_overlong_varint() =>
        AssertModelRejected(new ProtoBuilder().Raw(0x78, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF).ToArray(), "varint");

    [Fact]
    public void Model_bad_wire_type() => AssertModelRejected(new ProtoBuilder().Raw(0x0F, 0x00).ToArray(), "wire type");

    [Fact]
    public void Model_field_with_wrong_wire_type() =>
        AssertModelRejected(new ProtoBuilder().Int(1, 5).ToArray(), "ModelProto.pieces");

    [Fact]
    public void Model_invalid_utf8_piece()
    {
        var model = new ProtoBuilder().Message(1, new ProtoBuilder().Bytes(1, [0x61, 0xFF]).Float(2, 0)).ToArray();
        AssertModelRejected(model, "not valid UTF-8");
    }

    [Fact]
    public void Model_duplicate_piece() => AssertModelRejected(ProtoBuilder.Model([("a", -1), ("a", -2)]).ToArray(), "defined twice");

    [Fact]
    public void Model_missing_byte_piece()
    {
        var model = new ProtoBuilder();
        model.Message(1, ProtoBuilder.Piece("<unk>", 0, 2)).Message(1, ProtoBuilder.Piece("<s>", 0, 3))
            .Message(1, ProtoBuilder.Piece("</s>", 0, 3)).Message(1, ProtoBuilder.Piece("<0x00>", 0, 6));
        model.Message(2, new ProtoBuilder().Int(3, 2).Int(35, 1));
        AssertModelRejected(model.ToArray(), "<0x01> is missing");
    }

    [Fact]
    public void Model_unk_id_out_of_range() =>
        AssertModelRejected(ProtoBuilder.Model(SomePieces, trainer: t => t.Int(40, 100_000)).ToArray(), "unk_id 100000");

    [Fact]
    public void Model_bos_id_out_of_range() =>
        AssertModelRejected(ProtoBuilder.Model(SomePieces, trainer: t => t.Int(41, 5000)).ToArray(), "bos_id 5000");

    [Fact]
    public void Model_without_pieces() =>
        AssertModelRejected(new ProtoBuilder().Message(3, new ProtoBuilder().String(1, "identity")).ToArray(), "no pieces");

    [Fact]
    public void Model_unknown_piece_type() =>
        AssertModelRejected(new ProtoBuilder().Message(1, ProtoBuilder.Piece("a", 0, 9)).ToArray(), "unknown type 9");

    [Fact]
    public void Model_byte_piece_without_byte_fallback() =>
        AssertModelRejected(ProtoBuilder.Model(SomePieces, trainer: t => t.Int(35, 0)).ToArray(), "byte_fallback is off");

    [Fact]
    public void Model_wrong_vocab_size()
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.model");
        File.WriteAllBytes(path, ProtoBuilder.Model(SomePieces).ToArray());
        var error = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path, 512));
        Assert.Contains("vocabulary has 512", error.Message);
    }

    [Fact]
    public void Model_unigram_and_charsmaps_are_not_supported()
    {
        var unigram = SentencePieceModelTokenizer.FromBytes(ProtoBuilder.Model(SomePieces).ToArray(), "x"); // BPE loads
        Assert.NotNull(unigram);
        var e1 = Assert.Throws<NotSupportedException>(() =>
            SentencePieceModelTokenizer.FromBytes(ProtoBuilder.Model(SomePieces, trainer: t => t.Int(3, 1)).ToArray(), "uni.model"));
        Assert.Contains("uni.model", e1.Message);
        Assert.Contains("UNIGRAM", e1.Message);
        var e2 = Assert.Throws<NotSupportedException>(() => SentencePieceModelTokenizer.FromBytes(
            ProtoBuilder.Model(SomePieces, normalizer: n => n.String(1, "nmt_nfkc").Bytes(2, [1, 2, 3, 4])).ToArray(), "nfkc.model"));
        Assert.Contains("nfkc.model", e2.Message);
        Assert.Contains("nmt_nfkc", e2.Message);
    }

    [Fact]
    public void Model_every_truncation_and_random_corruption_fails_cleanly()
    {
        byte[] data = File.ReadAllBytes(TestPaths.Tok512Model);
        for (int length = 0; length < data.Length; length++) LoadsOrFailsCleanly(data[..length]);
        var rng = new Random(7);
        for (int i = 0; i < 1500; i++)
        {
            byte[] copy = (byte[])data.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
            LoadsOrFailsCleanly(copy);
        }
    }

    [Fact]
    public void Bin_random_corruption_fails_cleanly()
    {
        byte[] data = File.ReadAllBytes(TestPaths.Tok512Bin);
        var rng = new Random(8);
        for (int i = 0; i < 1500; i++)
        {
            byte[] copy = (byte[])data.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
            try
            {
                var tok = Llama2cTokenizer.FromBytes(copy, "fuzz");
                tok.Decode(tok.Encode("Once upon a time 🦙", true, true));
            }
            catch (InvalidDataException) { }
        }
    }

    [Fact]
    public void Garbage_is_rejected_by_the_loader()
    {
        using var dir = new TempDir();
        var rng = new Random(3);
        byte[] garbage = new byte[4096];
        rng.NextBytes(garbage);
        garbage[0] = 0xFF;
        string path = dir.File("mystery");
        File.WriteAllBytes(path, garbage);
        var error = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));
        Assert.Contains(path, error.Message);
        File.WriteAllBytes(path, []);
        Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path)).Message);
    }

    private static void LoadsOrFailsCleanly(byte[] data)
    {
        try
        {
            var tok = SentencePieceModelTokenizer.FromBytes(data, "fuzz");
            tok.Decode(tok.Encode("Once upon a time 🦙", true, true));
        }
        catch (InvalidDataException) { }
        catch (NotSupportedException) { }
    }
}
