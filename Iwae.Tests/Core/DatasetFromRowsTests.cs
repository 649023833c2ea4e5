using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Core.Models;

namespace Iwae.Tests.Core;

/// <summary>Dataset.FromRows: three shapes of rows in memory, the same data set from each, and each bad input in one message.</summary>
public class DatasetFromRowsTests
{
    [Test]
    public void TheThreeShapes_GiveTheSameDataSet_Copied()
    {
        float[,] grid = { { 1, 2, 3 }, { 4, 5, 6 } };
        float[][] jagged = [[1, 2, 3], [4, 5, 6]];
        float[] flat = [1, 2, 3, 4, 5, 6];
        foreach (var d in new[] { Dataset.FromRows(grid), Dataset.FromRows(jagged), Dataset.FromRows(flat, width: 3) })
        {
            Assert.That(d.Count, Is.EqualTo(2));
            Assert.That(d.PixelsPerImage, Is.EqualTo(3));
            Assert.That(d.IsImage, Is.False);
            Assert.That(d.HasLabels, Is.False);
            Assert.That(d.Images.Row(1).ToArray(), Is.EqualTo(new float[] { 4, 5, 6 }));
        }
        var copy = Dataset.FromRows(flat, width: 3);
        flat[0] = 99;
        jagged[0][0] = 99;
        Assert.That(copy.Images.Row(0)[0], Is.EqualTo(1f), "the values are copied");
    }

    [Test]
    public void BadRows_AreRefusedNamingRowAndColumn()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => Dataset.FromRows([[1f, 2f], [3f, 4f], [5f]]))!.Message,
            Does.StartWith("row 2 has 1 values, row 0 has 2: every row must have the same length"));
        Assert.That(Assert.Throws<ArgumentException>(() => Dataset.FromRows([1f, 2f, 3f, 4f, 5f], width: 2))!.Message,
            Does.StartWith("5 values are not a whole number of rows of width 2 (1 left over)"));
        Assert.That(Assert.Throws<ArgumentException>(() => Dataset.FromRows([1f, 2f], width: 0))!.Message, Does.StartWith("width must be at least 1, got 0"));
        Assert.That(Assert.Throws<ArgumentException>(() => Dataset.FromRows(new float[,] { { 0, 1 }, { 2, float.NaN } }))!.Message,
            Does.StartWith("row 1, column 1 is NaN: every value must be a finite number"));
        Assert.That(Assert.Throws<ArgumentException>(() => Dataset.FromRows([[0f], [float.PositiveInfinity]]))!.Message,
            Does.StartWith("row 1, column 0 is Infinity"));
        Assert.That(Assert.Throws<ArgumentException>(() => Dataset.FromRows(new float[0][]))!.Message, Does.StartWith("there are no rows"));
        Assert.That(Assert.Throws<ArgumentException>(() => Dataset.FromRows(new float[3, 0]))!.Message, Does.StartWith("the rows have no values"));
        Assert.That(Assert.Throws<ArgumentException>(() => Dataset.FromRows([[1f], null!]))!.Message, Does.StartWith("row 1 is null"));
    }

    [Test]
    public void TheModel_TakesItsInputSizeFromTheData_AndRefusesOtherData()
    {
        var data = Dataset.FromRows(new float[,] { { 0, 1, 0.5f }, { 1, 0, 0.5f } });
        var config = new ModelConfig { Hidden = [4], Latent = 2 }.WithInput(data);
        Assert.That(config.InputSize, Is.EqualTo(3));
        var fromData = Iwae<float>.Create(config, new Rng(1), data);
        var fromMean = Iwae<float>.Create(config, new Rng(1), data.MeanPerPixel());
        Assert.That(fromData.Parameters.Select(p => p.Value.Span.ToArray()), Is.EqualTo(fromMean.Parameters.Select(p => p.Value.Span.ToArray())),
            "the same model as from the data's mean");
        Assert.That(Assert.Throws<ArgumentException>(() => Iwae<float>.Create(config with { InputSize = 784 }, new Rng(1), data))!.Message,
            Is.EqualTo("the data has 3 values per example, the model expects 784"));
    }
}
