using Iwae.Autodiff;
using Iwae.Core;
using Iwae.Core.Models;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Iwae.ML;

/// <summary>Reads the feature column of an <see cref="IDataView"/> into a [N, D] tensor, refusing what the model cannot take.</summary>
internal static class FeatureColumn
{
    /// <summary>The column <paramref name="name"/> of <paramref name="schema"/>, a vector of float of known size, and that size.</summary>
    /// <exception cref="ArgumentException">No such column, or a column of another type.</exception>
    public static (DataViewSchema.Column Column, int Width) Find(DataViewSchema schema, string name)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var found = schema.GetColumnOrNull(name);
        if (found is not { } column)
        {
            string columns = string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"));
            throw new ArgumentException($"the data has no column '{name}' (its columns: {(columns.Length == 0 ? "none" : columns)}); name the feature column in FeatureColumnName");
        }
        if (column.Type is not VectorDataViewType { ItemType: var item, IsKnownSize: true, Size: > 0 } vector || item != NumberDataViewType.Single)
            throw new ArgumentException($"column '{name}' is {column.Type}, not a vector of Single of known size (mlContext.Transforms.Concatenate or a [VectorType(D)] float[] field makes one)");
        return (column, vector.Size);
    }

    /// <summary>
    /// Every row's vector of <paramref name="view"/>'s column <paramref name="name"/> as [N, D]; checks that D is
    /// <paramref name="expectedWidth"/> (when given), that every value is finite, and for the Bernoulli observation that it
    /// lies in [0, 1]. Messages name the column, the row and the slot (from 0).
    /// </summary>
    public static Tensor<float> Read(IDataView view, string name, Observation observation, int? expectedWidth)
    {
        ArgumentNullException.ThrowIfNull(view);
        var (column, width) = Find(view.Schema, name);
        if (expectedWidth is int w && w != width)
            throw new ArgumentException($"column '{name}' has vectors of {width} values, the model was trained on {w}");

        var values = new List<float[]>();
        using (var cursor = view.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            while (cursor.MoveNext())
            {
                getter(ref buffer);
                var row = new float[width];
                buffer.CopyTo(row);
                int r = values.Count;
                for (int j = 0; j < width; j++)
                {
                    float x = row[j];
                    if (!float.IsFinite(x))
                        throw new ArgumentException($"column '{name}', row {r}, slot {j} is {x}: every feature must be a finite number (drop or impute missing values first)");
                    if (observation == Observation.Bernoulli && x is < 0 or > 1)
                        throw new ArgumentException($"column '{name}', row {r}, slot {j} is {x}: the Bernoulli observation needs values in [0, 1] (scale the features, or set Observation = Gaussian)");
                }
                values.Add(row);
            }
        }
        Limits.CheckTensor($"column '{name}'", values.Count, width);
        var x2 = Tensor<float>.Zeros(values.Count, width);
        for (int i = 0; i < values.Count; i++) values[i].CopyTo(x2.Row(i));
        return x2;
    }
}
