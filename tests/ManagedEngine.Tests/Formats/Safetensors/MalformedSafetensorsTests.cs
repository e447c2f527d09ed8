using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>
/// Hostile and broken safetensors files: each must fail with an <see cref="InvalidDataException"/>
/// whose message names the file, the tensor and the problem, without allocating by an unchecked
/// header field.
/// </summary>
public class MalformedSafetensorsTests
{
    private static InvalidDataException OpenFails(byte[] file, params string[] expectedInMessage)
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        File.WriteAllBytes(path, file);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        foreach (string s in expectedInMessage)
            Assert.Contains(s, e.Message);
        return e;
    }

    private static byte[] Zeros(int n) => new byte[n];

    [Fact]
    public void A_well_formed_file_opens_and_its_tensors_read_back()
    {
        using var tmp = new TempDir();
        new SafetensorsWriter().AddF32("a", [2, 2], [1, 2, 3, 4]).Add("b", "BF16", [3], [1, 0, 2, 0, 3, 0]).Write(tmp.File("x.safetensors"));
        using var file = SafetensorsFile.Open(tmp.File("x.safetensors"));
        Assert.Equal(["a", "b"], file.Tensors.Keys.Order());
        SafetensorsTensor a = file.Tensors["a"], b = file.Tensors["b"];
        Assert.Equal((SafetensorsDType.F32, 0L, 16L), (a.DType, a.Begin, a.End));
        Assert.Equal([2L, 2L], a.Shape);
        Assert.Equal((SafetensorsDType.BF16, 3L, 16L, 22L), (b.DType, b.ElementCount, b.Begin, b.End));
        Assert.Equal(new byte[] { 1, 0, 2, 0, 3, 0 }, file.ReadBytes(b));
        Assert.Equal("pt", file.Metadata["format"]);
    }

    [Fact]
    public void Shorter_than_the_length_prefix() =>
        OpenFails([1, 2, 3], "file length 3 bytes", "8-byte header length");

    [Fact]
    public void Header_length_larger_than_the_file() =>
        OpenFails(SafetensorsWriter.Raw("{}", Zeros(10), headerLength: 1000), "header length 1000 bytes", "larger than the 12 bytes that follow");

    [Fact]
    public void Huge_header_length_fails_without_allocating_it()
    {
        using var tmp = new TempDir();
        string path = tmp.File("huge.safetensors");
        File.WriteAllBytes(path, SafetensorsWriter.Raw("{}", Zeros(64), headerLength: 1UL << 62));
        Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path)); // warm up: JIT, file system caches

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains($"header length {1UL << 62} bytes", e.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes while rejecting a 2^62-byte header");
    }

    [Fact]
    public void Header_length_that_the_file_could_hold_but_over_the_cap_fails_without_allocating_it()
    {
        using var tmp = new TempDir();
        string path = tmp.File("big.safetensors");
        ulong stated = (ulong)SafetensorsFile.MaxHeaderBytes + 1;
        using (var stream = File.Create(path))
        {
            stream.Write(SafetensorsWriter.Raw("{}", [], headerLength: stated));
            stream.SetLength(SafetensorsFile.MaxHeaderBytes + 4096); // sparse: no disk space is used
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains($"header length {stated} bytes exceeds the supported maximum", e.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes while rejecting an over-long header");
    }

    [Fact]
    public void Invalid_json() =>
        OpenFails(SafetensorsWriter.Raw("{\"a\": {\"dtype\": \"F32\",", Zeros(0)), "not valid JSON");

    [Fact]
    public void Header_that_is_not_an_object() =>
        OpenFails(SafetensorsWriter.Raw("[1, 2]", Zeros(0)), "JSON array", "expected an object");

    [Fact]
    public void Unknown_dtype() =>
        OpenFails(SafetensorsWriter.Raw("""{"w": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}}""", Zeros(8)),
            "tensor \"w\"", "dtype \"F33\"", "not a known safetensors dtype");

    [Fact]
    public void Data_offsets_out_of_range() =>
        OpenFails(SafetensorsWriter.Raw("""{"w": {"dtype": "F32", "shape": [4], "data_offsets": [100, 116]}}""", Zeros(16)),
            "tensor \"w\"", "data_offsets [100, 116]", "beyond the 16-byte data section");

    [Fact]
    public void Data_offsets_reversed() =>
        OpenFails(SafetensorsWriter.Raw("""{"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}""", Zeros(8)),
            "tensor \"w\"", "end is before begin");

    [Fact]
    public void Overlapping_offsets() =>
        OpenFails(SafetensorsWriter.Raw("""
            {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
             "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
            """, Zeros(24)), "tensor \"b\"", "overlapping tensor \"a\"", "[0, 16]");

    [Fact]
    public void Unindexed_bytes_between_tensors() =>
        OpenFails(SafetensorsWriter.Raw("""
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}}
            """, Zeros(20)), "tensor \"b\"", "starts at data offset 12", "end at 8");

    [Fact]
    public void Trailing_bytes_after_the_last_tensor() =>
        OpenFails(SafetensorsWriter.Raw("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}""", Zeros(12)),
            "cover 8 bytes but 12 bytes follow the header");

    [Fact]
    public void Shape_times_dtype_size_differs_from_the_byte_range() =>
        OpenFails(SafetensorsWriter.Raw("""{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}""", Zeros(16)),
            "tensor \"w\"", "shape [3] of F32 (12 bytes)", "span 16 bytes");

    [Fact]
    public void Huge_shape_dims_overflow() =>
        OpenFails(SafetensorsWriter.Raw($$$"""{"w": {"dtype": "BF16", "shape": [{{{1L << 62}}}, {{{1L << 62}}}], "data_offsets": [0, 0]}}""", Zeros(0)),
            "tensor \"w\"", $"shape [{1L << 62}, {1L << 62}] of BF16", "overflows");

    [Fact]
    public void Shape_whose_byte_size_overflows_only_through_the_element_size() =>
        OpenFails(SafetensorsWriter.Raw($$$"""{"w": {"dtype": "F64", "shape": [{{{long.MaxValue / 4}}}], "data_offsets": [0, 0]}}""", Zeros(0)),
            "tensor \"w\"", "overflows");

    [Fact]
    public void Negative_dimension() =>
        OpenFails(SafetensorsWriter.Raw("""{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}""", Zeros(0)),
            "tensor \"w\"", "shape dimension 0 -1", "expected an integer from 0");

    [Fact]
    public void Offsets_beyond_a_64_bit_integer() =>
        OpenFails(SafetensorsWriter.Raw("""{"w": {"dtype": "F32", "shape": [0], "data_offsets": [0, 99999999999999999999]}}""", Zeros(0)),
            "tensor \"w\"", "data_offsets end 99999999999999999999");

    [Fact]
    public void Truncated_data()
    {
        byte[] whole = new SafetensorsWriter().AddF32("a", [4], [1, 2, 3, 4]).AddF32("b", [4], [5, 6, 7, 8]).ToBytes();
        OpenFails(whole[..^10], "tensor \"b\"", "data_offsets [16, 32]", "beyond the 22-byte data section", "truncated");
    }

    [Fact]
    public void Duplicate_tensor_names() =>
        OpenFails(SafetensorsWriter.Raw("""
            {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
             "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}
            """, Zeros(8)), "tensor \"w\"", "listed twice");

    [Fact]
    public void Missing_entry_fields() =>
        OpenFails(SafetensorsWriter.Raw("""{"w": {"dtype": "F32", "shape": [1]}}""", Zeros(4)), "tensor \"w\"", "no \"data_offsets\"");

    [Fact]
    public void Metadata_that_is_not_strings() =>
        OpenFails(SafetensorsWriter.Raw("""{"__metadata__": {"format": 1}}""", Zeros(0)), "__metadata__", "\"format\"", "expected a string");
}
