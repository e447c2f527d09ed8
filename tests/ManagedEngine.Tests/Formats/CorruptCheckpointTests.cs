using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.Tests.Support;
using static MlPipelines.ManagedEngine.Tests.Formats.CheckpointBytes;

namespace MlPipelines.ManagedEngine.Tests.Formats;

public class CorruptCheckpointTests
{
    // A valid small shape: dim 8, hidden 16, 2 layers, 2 heads, 1 kv head, vocab 10, seq 4.
    private static byte[] Valid(long extraBytes = 0) => File(8, 16, 2, 2, 1, 10, 4, extraBytes);

    /// <summary>Each case: a file name, its bytes, and texts the message must contain besides the name.</summary>
    public static TheoryData<string, byte[], string[]> Cases()
    {
        long validLength = Valid().Length;
        byte[] magic = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(magic, 0x616b3432);
        BinaryPrimitives.WriteInt32LittleEndian(magic.AsSpan(4), 7);
        return new()
        {
            { "empty.bin", [], ["empty"] },
            { "truncated-header.bin", Header(8, 16, 2, 2, 1, 10, 4)[..12], ["header", "n_heads", "12 bytes"] },
            { "negative-dim.bin", Header(-8, 16, 2, 2, 1, 10, 4), ["dim = -8"] },
            { "negative-hidden.bin", Header(8, -16, 2, 2, 1, 10, 4), ["hidden_dim = -16"] },
            { "zero-layers.bin", File(8, 16, 0, 2, 1, 10, 4), ["n_layers = 0"] },
            { "too-many-layers.bin", Header(8, 16, 5000, 2, 1, 10, 4), ["n_layers = 5000", "1024"] },
            { "absurd-vocab.bin", Header(8, 16, 2, 2, 1, int.MaxValue, 4), ["vocab_size = 2147483647"] },
            { "min-vocab.bin", Header(8, 16, 2, 2, 1, int.MinValue, 4), ["vocab_size = -2147483648"] },
            { "overflowing-embedding.bin", Header(65536, 16, 2, 2, 1, 4_000_000, 4), ["vocab_size = 4000000", "dim = 65536", "token_embedding"] },
            { "huge-dim.bin", Header(1 << 20, 16, 2, 2, 1, 10, 4), ["dim = 1048576", "65536"] },
            { "heads-not-dividing-dim.bin", Header(8, 16, 2, 3, 1, 10, 4), ["n_heads = 3", "does not divide dim = 8"] },
            { "kv-not-dividing-heads.bin", Header(8, 16, 2, 4, 3, 10, 4), ["n_kv_heads = 3", "does not divide n_heads = 4"] },
            { "kv-above-heads.bin", Header(8, 16, 2, 2, 4, 10, 4), ["n_kv_heads = 4", "exceeds n_heads = 2"] },
            { "zero-kv-heads.bin", Header(8, 16, 2, 2, 0, 10, 4), ["n_kv_heads = 0"] },
            { "odd-head-size.bin", Header(6, 16, 2, 2, 1, 10, 4), ["dim = 6", "n_heads = 2", "odd head size 3"] },
            { "zero-seq.bin", Header(8, 16, 2, 2, 1, 10, 0), ["seq_len = 0"] },
            { "one-float-short.bin", Valid(-4), ["file length", (validLength - 4).ToString(), validLength.ToString(), "shorter"] },
            { "one-byte-long.bin", Valid(1), ["file length", (validLength + 1).ToString(), validLength.ToString(), "longer"] },
            { "header-only.bin", Header(8, 16, 2, 2, 1, 10, 4), ["file length 28 bytes", validLength.ToString()] },
            { "unshared-without-classifier.bin", WithVocab(Valid(), -10), ["file length", "separate classifier"] },
            { "unknown-version.bin", magic, ["version = 7", "ak42"] },
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Load_RejectsCorruptFileNamingFileAndField(string name, byte[] bytes, string[] expected)
    {
        using var dir = new TempDir();
        string path = dir.File(name);
        System.IO.File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<InvalidDataException>(() => Llama2cCheckpoint.Load(path));

        Assert.Contains(name, ex.Message);
        foreach (string text in expected)
            Assert.Contains(text, ex.Message);
    }

    [Fact]
    public void Load_ValidBaseCaseLoads()
    {
        // Guards the corruption cases: they must fail because of the corruption, not the base shape.
        using var dir = new TempDir();
        string path = dir.File("valid.bin");
        System.IO.File.WriteAllBytes(path, Valid());
        using var w = Llama2cCheckpoint.Load(path);
        Assert.Equal((8, 1, 4), (w.Config.Dim, w.Config.KvHeadCount, w.Config.KvDim));
    }

    [Theory]
    [InlineData(1, "version-1")]
    [InlineData(2, "version-2")]
    public void Load_VersionedFormatsAreNotSupportedYet(int version, string expected)
    {
        using var dir = new TempDir();
        string path = dir.File($"v{version}.bin");
        var bytes = new byte[256];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, 0x616b3432);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), version);
        System.IO.File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<NotSupportedException>(() => Llama2cCheckpoint.Load(path));
        Assert.Contains($"v{version}.bin", ex.Message);
        Assert.Contains(expected, ex.Message);
        Assert.Contains("not supported yet", ex.Message);
    }

    [Fact]
    public void Load_MissingFileThrowsFileNotFound()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => Llama2cCheckpoint.Load(dir.File("absent.bin")));
    }

    private static byte[] WithVocab(byte[] file, int vocabField)
    {
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(20), vocabField);
        return file;
    }
}
