"""mmdet's CocoDataset with clear messages for empty and broken data."""
import logging
from typing import Any, List, Optional

import mmcv
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine.fileio import exists, get
from mmengine.logging import print_log


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """``CocoDataset`` that says what is wrong with the data and how to fix it.

    Behaves exactly like mmdet's ``CocoDataset`` (same arguments, same
    samples) except for three situations mmdet handles silently or with an
    error that does not name the cause:

    * An annotation file whose training images all lack boxes of the
      configured classes (no annotations at all, or class names that match
      none of the file's categories): mmdet filters every image out and
      mmengine then fails with ``need at least one array to concatenate``.
      Here: a ``ValueError`` naming the file, the counts and the fix.
    * Training images without boxes: mmdet drops them (``filter_empty_gt``)
      without a word. Here: the same, with a warning giving the count.
      Validation/test sets keep them and evaluate them (a detection on such
      an image is a false positive), as mmdet does.
    * An image file that cannot be decoded (corrupt or truncated): mmcv
      fails with ``failed to load image``. Here: a ``ValueError`` naming the
      file and the fix.

    * An annotation file that does not exist (e.g. a COCO config run where
      COCO was never downloaded): pycocotools fails deep in its loader. Here:
      a ``FileNotFoundError`` naming the path and the config keys to set.

    mmera's configs name it as their dataset type (all three dataloaders),
    so every tool that reads the config uses it.
    """

    def load_data_list(self) -> List[dict]:
        """Loads like mmdet; names a missing annotation file and the fix."""
        if not self._ann_file_exists():
            if self.test_mode:
                # the dataset does not know which loader (val/test) built it
                keys = ('val_dataloader.dataset.data_root and/or '
                        'test_dataloader.dataset.data_root (and the '
                        'evaluators\' ann_file)')
                example = ('val_dataloader.dataset.data_root=/path/to/data/ '
                           'test_dataloader.dataset.data_root=/path/to/data/')
            else:
                keys = 'train_dataloader.dataset.data_root'
                example = f'{keys}=/path/to/data/'
            raise FileNotFoundError(
                f'{type(self).__name__}: annotation file not found: '
                f'{self.ann_file!r} (data_root={self.data_root!r}). Put the '
                'data set there (for COCO: mmdet\'s "Dataset Prepare" docs, '
                'data/coco/annotations/instances_train2017.json etc.), or '
                f'point the config at it: set {keys}, e.g. --cfg-options '
                f'{example}.')
        return super().load_data_list()

    def _ann_file_exists(self) -> bool:
        try:
            return exists(self.ann_file, backend_args=self.backend_args)
        except (AttributeError, NotImplementedError):  # HTTP has no exists()
            return True

    def filter_data(self) -> List[dict]:
        """Filters like mmdet, reporting what was dropped (see class doc)."""
        if not self.data_list:
            raise ValueError(
                f'{type(self).__name__}: the annotation file '
                f'{self.ann_file!r} lists no images. Point ann_file at the '
                'right file (e.g. annotations/instances_train.json) or '
                're-export the annotations.')
        kept = super().filter_data()
        if self.test_mode:
            return kept
        with_boxes = set()
        for cat_id in self.cat_ids:
            with_boxes.update(self.cat_img_map.get(cat_id, ()))
        no_box = sum(1 for info in self.data_list
                     if info['img_id'] not in with_boxes)
        classes = tuple(self.metainfo.get('classes', ()))
        if not kept:
            num_boxes = sum(len(info['instances']) for info in self.data_list)
            # every image with boxes was dropped by filter_cfg.min_size
            too_small = len(self.data_list) - no_box
            small = (f' and {too_small} are smaller than filter_cfg.min_size'
                     if too_small else '')
            raise ValueError(
                f'{type(self).__name__}: no training image of '
                f'{self.ann_file!r} is left: {no_box} of '
                f'{len(self.data_list)} images have no box of the classes '
                f'{classes}{small} (the file has {num_boxes} boxes of these '
                f'classes; {len(self.cat_ids)} of the {len(classes)} classes '
                'are categories of the file). Check that the file holds the '
                'annotations (not just the image list) and that '
                "metainfo=dict(classes=...) uses the file's category names.")
        if no_box and self.filter_cfg and self.filter_cfg.get(
                'filter_empty_gt', False):
            print_log(
                f'{type(self).__name__}: {no_box} of {len(self.data_list)} '
                f'training images in {self.ann_file!r} have no box of the '
                f'classes {classes} and are skipped '
                '(filter_cfg.filter_empty_gt=True); set it to False to train '
                'on them as background-only images.',
                logger='current',
                level=logging.WARNING)
        return kept

    def prepare_data(self, idx: int) -> Any:
        """Runs the pipeline; names the image if it cannot be decoded."""
        try:
            return super().prepare_data(idx)
        except Exception as err:
            path = self.get_data_info(idx).get('img_path')
            problem = None if path is None else _image_problem(
                path, self.backend_args)
            if problem is None:
                raise  # not a broken image: the pipeline's own error
            raise ValueError(
                f'{type(self).__name__}: image {path!r} (sample {idx} of '
                f'{self.ann_file!r}) {problem}. Restore the file, or remove '
                'the image and its annotations from the annotation '
                'file.') from err


def _image_problem(path: str, backend_args: Any) -> Optional[str]:
    """What is wrong with the image file, or None if it decodes."""
    try:
        img_bytes = get(path, backend_args=backend_args)
    except FileNotFoundError:
        return 'is missing (check data_root and data_prefix)'
    except Exception as err:  # permissions, remote back-end errors
        return f'cannot be read ({err})'
    try:
        if mmcv.imfrombytes(img_bytes) is not None:
            return None
    except Exception:  # some decoders raise instead of returning None
        pass
    return 'cannot be decoded: the file is corrupt, truncated or not an image'
