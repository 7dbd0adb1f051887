"""Check a model folder written by `nnunet-ts export-nnunet` with PyTorch.

Loads fold_0/checkpoint_final.pth with torch.load, checks the keys nnU-Net's predictor reads
(nnunetv2/inference/predict_from_raw_data.py, initialize_from_trained_model_folder), builds the network from
plans.json with the same module structure as dynamic_network_architectures' PlainConvUNet (written here in plain
torch: nnU-Net itself is not installed), loads network_weights with strict=True, runs it on an input and compares
the logits with ours.

Usage: python3 nnunet_export_check.py <model folder> <configuration> <input.npy [n,c,...]> <our_logits.npy> [tol]
Prints one JSON line; exit code 1 when a check fails.
"""
import json
import sys

import numpy as np
import torch
from torch import nn


def op(name, dims):
    return {"conv": (nn.Conv2d, nn.Conv3d), "norm": (nn.InstanceNorm2d, nn.InstanceNorm3d),
            "transp": (nn.ConvTranspose2d, nn.ConvTranspose3d)}[name][dims - 2]


class ConvDropoutNormReLU(nn.Module):
    def __init__(self, dims, cin, cout, kernel, stride, kw):
        super().__init__()
        self.conv = op("conv", dims)(cin, cout, kernel, stride, padding=[(k - 1) // 2 for k in kernel],
                                     bias=kw["conv_bias"])
        self.norm = op("norm", dims)(cout, **kw["norm_op_kwargs"])
        self.nonlin = nn.LeakyReLU(**(kw["nonlin_kwargs"] or {}))
        self.all_modules = nn.Sequential(self.conv, self.norm, self.nonlin)

    def forward(self, x):
        return self.all_modules(x)


class StackedConvBlocks(nn.Module):
    def __init__(self, n, dims, cin, cout, kernel, stride, kw):
        super().__init__()
        self.convs = nn.Sequential(
            ConvDropoutNormReLU(dims, cin, cout, kernel, stride, kw),
            *[ConvDropoutNormReLU(dims, cout, cout, kernel, [1] * dims, kw) for _ in range(n - 1)])

    def forward(self, x):
        return self.convs(x)


class Encoder(nn.Module):
    def __init__(self, dims, cin, kw):
        super().__init__()
        stages, c = [], cin
        for s in range(kw["n_stages"]):
            f = kw["features_per_stage"][s]
            stages.append(nn.Sequential(StackedConvBlocks(kw["n_conv_per_stage"][s], dims, c, f, kw["kernel_sizes"][s],
                                                          kw["strides"][s], kw)))
            c = f
        self.stages = nn.Sequential(*stages)

    def forward(self, x):
        skips = []
        for s in self.stages:
            x = s(x)
            skips.append(x)
        return skips


class Decoder(nn.Module):
    def __init__(self, encoder, dims, n_classes, kw):
        super().__init__()
        self.encoder = encoder
        f, n = kw["features_per_stage"], kw["n_stages"]
        stages, transp, seg = [], [], []
        for s in range(1, n):
            below, skip = f[-s], f[-(s + 1)]
            st = kw["strides"][-s]
            transp.append(op("transp", dims)(below, skip, st, st, bias=kw["conv_bias"]))
            stages.append(StackedConvBlocks(kw["n_conv_per_stage_decoder"][s - 1], dims, 2 * skip, skip,
                                            kw["kernel_sizes"][-(s + 1)], [1] * dims, kw))
            seg.append(op("conv", dims)(skip, n_classes, 1, 1, 0, bias=True))
        self.stages, self.transpconvs, self.seg_layers = nn.ModuleList(stages), nn.ModuleList(transp), nn.ModuleList(seg)

    def forward(self, skips):
        x = skips[-1]
        for s in range(len(self.stages)):
            x = self.stages[s](torch.cat((self.transpconvs[s](x), skips[-(s + 2)]), 1))
        return self.seg_layers[-1](x)


class PlainConvUNet(nn.Module):
    def __init__(self, dims, cin, n_classes, kw):
        super().__init__()
        self.encoder = Encoder(dims, cin, kw)
        self.decoder = Decoder(self.encoder, dims, n_classes, kw)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def main():
    folder, configuration, input_file, ours_file = sys.argv[1:5]
    tol = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-3
    ck = torch.load(f"{folder}/fold_0/checkpoint_final.pth", map_location=torch.device("cpu"))
    plans = json.load(open(f"{folder}/plans.json"))
    dataset = json.load(open(f"{folder}/dataset.json"))
    missing = [k for k in ("network_weights", "init_args", "trainer_name", "inference_allowed_mirroring_axes")
               if k not in ck]
    arch = plans["configurations"][ck["init_args"]["configuration"]]["architecture"]
    kw = arch["arch_kwargs"]
    dims = 3 if kw["conv_op"].endswith("Conv3d") else 2
    n_classes = len([k for k in dataset["labels"] if k != "ignore"])
    net = PlainConvUNet(dims, len(dataset["channel_names"]), n_classes, kw)
    net.load_state_dict(ck["network_weights"], strict=True)
    net.eval()
    x = torch.from_numpy(np.load(input_file))
    with torch.no_grad():
        y = net(x).numpy()
    ours = np.load(ours_file)
    diff = float(np.abs(y - ours).max())
    ok = (not missing and ck["init_args"]["configuration"] == configuration and diff <= tol
          and arch["network_class_name"].endswith("PlainConvUNet"))
    print(json.dumps({"ok": ok, "missing_keys": missing, "max_abs_diff": diff, "trainer_name": ck["trainer_name"],
                      "mirror_axes": list(ck["inference_allowed_mirroring_axes"] or []),
                      "n_state_dict_entries": len(ck["network_weights"]), "torch": torch.__version__}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
