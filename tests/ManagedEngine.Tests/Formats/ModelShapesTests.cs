using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Tests.Formats;

public class ModelShapesTests
{
    [Theory]
    [InlineData("15m", 288, 768, 6, 6, 6, 256)]
    [InlineData("42m", 512, 1376, 8, 8, 8, 1024)]
    [InlineData("110m", 768, 2048, 12, 12, 12, 1024)]
    [InlineData("110M", 768, 2048, 12, 12, 12, 1024)]
    public void Get_ReturnsTheTinyStoriesShapes(string name, int dim, int hidden, int layers, int heads, int kvHeads, int seqLen)
    {
        var c = ModelShapes.Get(name);
        Assert.Equal((dim, hidden, layers, heads, kvHeads, 32000, seqLen),
            (c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.VocabSize, c.MaxSequenceLength));
        Assert.True(c.SharedClassifier);
    }

    [Fact]
    public void Get_UnknownNameListsTheKnownOnes()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelShapes.Get("7b"));
        Assert.Contains("'7b'", ex.Message);
        Assert.Contains("15m, 42m, 110m", ex.Message);
        Assert.Equal("name", ex.ParamName);
        Assert.False(ModelShapes.TryGet("7b", out _));
    }

    [Fact]
    public void Names_AreAllResolvable()
    {
        Assert.Equal(["15m", "42m", "110m"], ModelShapes.Names);
        Assert.All(ModelShapes.Names, n => Assert.NotNull(ModelShapes.Get(n)));
    }
}
